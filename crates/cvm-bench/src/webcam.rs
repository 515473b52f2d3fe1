//! The webcam scenario natively, with the pretrained trunk (EfficientNet-Lite0 + adapter):
//! (a) per-frame latency of preprocessing + trunk + adapter on one 224×224 frame;
//! (b) time from the last example of a new class to a trained adapter, with 5 classes already known: frames
//!     arrive at the page's recording rate and each is added (its trunk features computed) as it arrives.
//! The few-shot accuracy of this student is a protocol of `cvm-bench cl` (`few-shot`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use cvm::trunk::Trunk;
use cvm::{ConceptSpace, ImageView, Learner, LearnerConfig, PixelFormat, StudentConfig};
use rand::{RngExt, SeedableRng, rngs::StdRng};
use serde::Serialize;

use crate::data::Dataset;

/// Sizes of the scenario; the defaults match the demo page (60 steps per training, 224×224 frames).
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    /// Examples of each class.
    pub shots: usize,
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
        Self { shots: 20, steps: 60, memory: 100, frame: 224, record_fps: 8.0, latency_frames: 20 }
    }

    pub fn quick() -> Self {
        Self { latency_frames: 5, ..Self::full() }
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
pub struct Report {
    pub protocol: Protocol,
    pub latency: Latency,
    pub new_class: NewClass,
}

fn adapter_learner(
    trunk: &Trunk,
    memory: usize,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
) -> Result<Learner, String> {
    let config = LearnerConfig {
        memory,
        ..LearnerConfig::new(StudentConfig::adapter(trunk.input(), cvm::efficientnet::FEATURES))
    };
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

pub fn run(
    dataset: &Dataset,
    trunk: &Trunk,
    protocol: &Protocol,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    mut log: impl FnMut(&str),
) -> Result<Report, String> {
    let side = protocol.frame;
    // (b) five classes known, then a sixth from its examples to a trained adapter.
    let mut learner = adapter_learner(trunk, protocol.memory, concepts, device)?;
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
    let new_class = NewClass {
        known_classes: 5,
        examples: protocol.shots,
        steps: protocol.steps,
        features_s: features.as_secs_f64(),
        backlog_s,
        train_s,
        after_last_s: backlog_s + train_s,
    };
    log(&format!(
        "(b) new class: {:.2} s after its last frame ({:.2} s features backlog + {:.2} s for {} steps); features of all {} frames {:.2} s, computed while recording at {} frames/s",
        new_class.after_last_s,
        backlog_s,
        train_s,
        protocol.steps,
        protocol.shots,
        new_class.features_s,
        protocol.record_fps
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
    let latency = Latency {
        median_ms,
        p90_ms: times[(times.len() * 9 / 10).min(times.len() - 1)],
        frames_per_second: 1e3 / median_ms,
    };
    log(&format!(
        "(a) frame latency: median {:.1} ms, p90 {:.1} ms ({:.1} frames/s)",
        latency.median_ms, latency.p90_ms, latency.frames_per_second
    ));

    Ok(Report { protocol: protocol.clone(), latency, new_class })
}

/// Markdown tables of a report.
pub fn table(report: &Report) -> String {
    let (l, n) = (&report.latency, &report.new_class);
    let mut out = String::from("| measure | native flex |\n|---|---|\n");
    out += &format!(
        "| frame latency, trunk + adapter (median / p90) | {:.1} / {:.1} ms ({:.1} frames/s) |\n",
        l.median_ms, l.p90_ms, l.frames_per_second
    );
    out += &format!(
        "| new class with {} known, {} frames recorded at {} frames/s: after the last frame (features backlog + {} steps) | {:.2} s ({:.2} s + {:.2} s) |\n",
        n.known_classes, n.examples, report.protocol.record_fps, n.steps, n.after_last_s, n.backlog_s, n.train_s
    );
    out += &format!(
        "| trunk features of those {} frames, computed while recording | {:.2} s |\n",
        n.examples, n.features_s
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "needs the data cache and the trunk blob: run through `cargo xtask test`"]
    fn scenario_runs_end_to_end_on_a_subset() {
        let assets =
            std::path::PathBuf::from(std::env::var_os("CVM_ASSETS").expect("CVM_ASSETS is set by `cargo xtask test`"));
        let dataset = crate::data::fashion_mnist(&crate::data::tests::data_dir().join("fashion-mnist")).unwrap();
        let device = Device::flex().autodiff();
        let trunk =
            Trunk::from_bytes(&std::fs::read(assets.join("trunk-efficientnet-lite0.safetensors")).unwrap(), &device)
                .unwrap();
        let concepts = Arc::new(
            ConceptSpace::from_bytes(&std::fs::read(assets.join("concepts-smollm2.safetensors")).unwrap()).unwrap(),
        );
        let protocol = Protocol { shots: 3, steps: 3, latency_frames: 2, ..Protocol::quick() };
        let mut lines = 0;
        let report = run(&dataset, &trunk, &protocol, &concepts, &device, |_| lines += 1).unwrap();
        assert!(report.latency.median_ms > 0.0 && report.latency.p90_ms >= report.latency.median_ms);
        let n = &report.new_class;
        assert!(
            n.features_s > 0.0
                && n.backlog_s >= 0.0
                && n.train_s > 0.0
                && (n.after_last_s - n.backlog_s - n.train_s).abs() < 1e-9
        );
        assert_eq!(lines, 2);
        assert!(table(&report).contains("new class with 5 known"));
    }
}
