//! The webcam scenario natively, with the pretrained trunk (EfficientNet-Lite0 + adapter):
//! (a) per-frame latency of preprocessing + trunk + adapter on one 224×224 frame;
//! (b) time from the last example of a new class to a trained adapter, with 5 classes already known: frames
//!     arrive at the page's recording rate and each is added (its trunk features computed) as it arrives;
//! (c) a few-shot class-incremental run: Split Fashion-MNIST with 20 examples per class, upsampled to the
//!     trunk's input, adapter-CVM vs adapter-ER vs the tiny CNN (CVM, from scratch at 28×28).

use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use cvm::metrics::mean_std;
use cvm::pretrained::Trunk;
use cvm::{ConceptSpace, HeadKind, ImageView, Learner, LearnerConfig, PixelFormat, StudentConfig};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde::Serialize;

use crate::cl::{class_incremental, class_order};
use crate::data::{Dataset, SIDE};

/// Sizes of the scenario; the defaults match the demo page (60 steps per training, 224×224 frames).
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    pub seeds: Vec<u64>,
    /// Training examples per class (few-shot).
    pub shots: usize,
    pub test_per_class: usize,
    pub steps: usize,
    pub memory: usize,
    /// Side of the square camera frames of (a) and (b).
    pub frame: usize,
    /// Frames per second at which (b)'s examples arrive (the demo page records at 8).
    pub record_fps: f64,
    pub latency_frames: usize,
}

impl Protocol {
    pub fn full() -> Self {
        Self { seeds: vec![0, 1, 2], shots: 20, test_per_class: 50, steps: 60, memory: 100, frame: 224, record_fps: 8.0, latency_frames: 20 }
    }

    pub fn quick() -> Self {
        Self { seeds: vec![0], test_per_class: 20, latency_frames: 5, ..Self::full() }
    }
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub median_ms: f64,
    pub p90_ms: f64,
    pub frames_per_second: f64,
}

#[derive(Debug, Serialize)]
pub struct NewClass {
    pub known_classes: usize,
    pub examples: usize,
    pub steps: usize,
    /// Computing the trunk features of all new examples (spread over the recording).
    pub features_s: f64,
    /// From the last frame's arrival until every example is added (features still being computed).
    pub backlog_s: f64,
    pub train_s: f64,
    /// From the last frame's arrival to a trained adapter: `backlog_s + train_s`.
    pub after_last_s: f64,
}

#[derive(Debug, Serialize)]
pub struct FewShotRun {
    pub method: &'static str,
    pub seed: u64,
    pub acc: f64,
    pub aia: f64,
    pub forgetting: f64,
    pub matrix: Vec<Vec<f64>>,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub protocol: Protocol,
    pub latency: Latency,
    pub new_class: NewClass,
    pub few_shot: Vec<FewShotRun>,
}

/// The few-shot methods: name, head, and whether the student is the trunk + adapter (else the tiny CNN).
const METHODS: [(&str, HeadKind, bool); 3] = [("adapter-cvm", HeadKind::Concepts, true), ("adapter-er", HeadKind::Linear, true), ("tiny-cnn-cvm", HeadKind::Concepts, false)];

fn adapter_learner(trunk: &Trunk, head: HeadKind, memory: usize, seed: u64, concepts: &Arc<ConceptSpace>, device: &Device) -> Result<Learner, String> {
    let config = LearnerConfig { head, memory, seed, ..LearnerConfig::new(StudentConfig::adapter(trunk.input(), cvm::trunk::FEATURES)) };
    Learner::with_trunk(config, concepts.clone(), trunk.clone(), device.clone()).map_err(|e| e.to_string())
}

/// Random RGBA frames standing in for camera frames (timings do not depend on the content).
fn frames(n: usize, side: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| (0..side * side * 4).map(|_| rng.random::<u8>()).collect()).collect()
}

fn views(frames: &[Vec<u8>], side: usize) -> Result<Vec<ImageView<'_>>, String> {
    frames.iter().map(|f| ImageView::new(side, side, PixelFormat::Rgba8, f).map_err(|e| e.to_string())).collect()
}

pub fn run(dataset: &Dataset, trunk: &Trunk, protocol: &Protocol, concepts: &Arc<ConceptSpace>, device: &Device, mut log: impl FnMut(&str)) -> Result<Report, String> {
    let side = protocol.frame;
    // (b) five classes known, then a sixth from its examples to a trained adapter.
    let mut learner = adapter_learner(trunk, HeadKind::Concepts, protocol.memory, 0, concepts, device)?;
    for (k, name) in dataset.class_names.iter().take(5).enumerate() {
        let class = learner.add_class(name).map_err(|e| e.to_string())?;
        let data = frames(protocol.shots, side, k as u64);
        pollster::block_on(learner.add_examples(class, &views(&data, side)?)).map_err(|e| e.to_string())?;
        pollster::block_on(learner.train(protocol.steps)).map_err(|e| e.to_string())?;
    }
    let data = frames(protocol.shots, side, 5);
    let class = learner.add_class(dataset.class_names[5]).map_err(|e| e.to_string())?;
    let period = Duration::from_secs_f64(1.0 / protocol.record_fps);
    let started = Instant::now();
    let mut features = Duration::ZERO;
    for (i, view) in views(&data, side)?.into_iter().enumerate() {
        std::thread::sleep((started + period * i as u32).saturating_duration_since(Instant::now()));
        let t = Instant::now();
        pollster::block_on(learner.add_example(class, view)).map_err(|e| e.to_string())?;
        features += t.elapsed();
    }
    let last_frame = started + period * (protocol.shots as u32).saturating_sub(1);
    let added = Instant::now();
    pollster::block_on(learner.train(protocol.steps)).map_err(|e| e.to_string())?;
    let (backlog_s, train_s) = (added.duration_since(last_frame).as_secs_f64(), added.elapsed().as_secs_f64());
    let new_class = NewClass { known_classes: 5, examples: protocol.shots, steps: protocol.steps, features_s: features.as_secs_f64(), backlog_s, train_s, after_last_s: backlog_s + train_s };
    log(&format!(
        "(b) new class: {:.2} s after its last frame ({:.2} s features backlog + {:.2} s for {} steps); features of all {} frames {:.2} s, computed while recording at {} frames/s",
        new_class.after_last_s, backlog_s, train_s, protocol.steps, protocol.shots, new_class.features_s, protocol.record_fps
    ));

    // (a) one frame at a time, as the page's recognition loop sends them.
    let data = frames(protocol.latency_frames + 3, side, 6);
    let mut times = Vec::with_capacity(protocol.latency_frames);
    for (i, view) in views(&data, side)?.into_iter().enumerate() {
        let started = Instant::now();
        pollster::block_on(learner.predict(view)).map_err(|e| e.to_string())?;
        if i >= 3 {
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    let median_ms = times[times.len() / 2];
    let latency = Latency { median_ms, p90_ms: times[(times.len() * 9 / 10).min(times.len() - 1)], frames_per_second: 1e3 / median_ms };
    log(&format!("(a) frame latency: median {:.1} ms, p90 {:.1} ms ({:.1} frames/s)", latency.median_ms, latency.p90_ms, latency.frames_per_second));

    // (c) few-shot class-incremental.
    let mut few_shot = Vec::new();
    for &seed in &protocol.seeds {
        let experiences: Vec<Vec<usize>> = class_order(seed).chunks(2).map(<[usize]>::to_vec).collect();
        for (method, head, adapter) in METHODS {
            let started = Instant::now();
            let learner = if adapter {
                adapter_learner(trunk, head, protocol.memory, seed, concepts, device)?
            } else {
                let config = LearnerConfig { head, memory: protocol.memory, seed, ..LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE)) };
                Learner::new(config, concepts.clone(), device.clone()).map_err(|e| e.to_string())?
            };
            let r = class_incremental(learner, dataset, &experiences, protocol.shots, protocol.test_per_class, protocol.steps)?;
            let run = FewShotRun { method, seed, acc: r.final_accuracy(), aia: r.average_incremental_accuracy(), forgetting: r.forgetting(), matrix: r.0, seconds: started.elapsed().as_secs_f64() };
            log(&format!("(c) {method:<13} seed {seed}: ACC {:5.1}%  forgetting {:5.1}%  AIA {:5.1}%  ({:.0} s)", 100.0 * run.acc, 100.0 * run.forgetting, 100.0 * run.aia, run.seconds));
            few_shot.push(run);
        }
    }
    Ok(Report { protocol: protocol.clone(), latency, new_class, few_shot })
}

/// Markdown tables of a report.
pub fn table(report: &Report) -> String {
    let (l, n) = (&report.latency, &report.new_class);
    let mut out = String::from("| measure | native flex |\n|---|---|\n");
    out += &format!("| frame latency, trunk + adapter (median / p90) | {:.1} / {:.1} ms ({:.1} frames/s) |\n", l.median_ms, l.p90_ms, l.frames_per_second);
    out += &format!(
        "| new class with {} known, {} frames recorded at {} frames/s: after the last frame (features backlog + {} steps) | {:.2} s ({:.2} s + {:.2} s) |\n",
        n.known_classes, n.examples, report.protocol.record_fps, n.steps, n.after_last_s, n.backlog_s, n.train_s
    );
    out += &format!("| trunk features of those {} frames, computed while recording | {:.2} s |\n\n", n.examples, n.features_s);
    out += &format!(
        "| few-shot Split Fashion-MNIST ({} shots/class, memory {}, {} steps/experience) | ACC (%) | forgetting (%) | AIA (%) | seeds |\n|---|---|---|---|---|\n",
        report.protocol.shots, report.protocol.memory, report.protocol.steps
    );
    for (method, _, _) in METHODS {
        let runs: Vec<&FewShotRun> = report.few_shot.iter().filter(|r| r.method == method).collect();
        let stat = |f: fn(&FewShotRun) -> f64| {
            let (m, s) = mean_std(&runs.iter().map(|r| 100.0 * f(r)).collect::<Vec<_>>());
            format!("{m:.1} ± {s:.1}")
        };
        out += &format!("| {method} | {} | {} | {} | {} |\n", stat(|r| r.acc), stat(|r| r.forgetting), stat(|r| r.aia), runs.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "needs the data cache and the student blob: run through `cargo xtask test`"]
    fn scenario_runs_end_to_end_on_a_subset() {
        let assets = std::path::PathBuf::from(std::env::var_os("CVM_ASSETS").expect("CVM_ASSETS is set by `cargo xtask test`"));
        let dataset = crate::data::fashion_mnist(&crate::data::tests::data_dir().join("fashion-mnist")).unwrap();
        let device = Device::flex().autodiff();
        let trunk = Trunk::from_bytes(&std::fs::read(assets.join("student-efficientnet-lite0.safetensors")).unwrap(), &device).unwrap();
        let concepts = Arc::new(ConceptSpace::from_bytes(&std::fs::read(assets.join("concepts-smollm2.safetensors")).unwrap()).unwrap());
        let protocol = Protocol { seeds: vec![1], shots: 3, test_per_class: 2, steps: 3, latency_frames: 2, ..Protocol::quick() };
        let mut lines = 0;
        let report = run(&dataset, &trunk, &protocol, &concepts, &device, |_| lines += 1).unwrap();
        assert!(report.latency.median_ms > 0.0 && report.latency.p90_ms >= report.latency.median_ms);
        let n = &report.new_class;
        assert!(n.features_s > 0.0 && n.backlog_s >= 0.0 && n.train_s > 0.0 && (n.after_last_s - n.backlog_s - n.train_s).abs() < 1e-9);
        assert_eq!(report.few_shot.len(), METHODS.len());
        for r in &report.few_shot {
            assert_eq!(r.matrix.len(), 5);
            assert!(r.matrix.iter().enumerate().all(|(i, row)| row.len() == 5 && row[i + 1..].iter().all(|&v| v == 0.0)));
            assert!((0.0..=1.0).contains(&r.acc) && (0.0..=1.0).contains(&r.forgetting));
        }
        assert_eq!(lines, 2 + METHODS.len());
        assert!(table(&report).contains("adapter-cvm"));
    }
}
