//! Class-incremental protocol: 5 experiences × 2 classes, the methods under one student and one budget.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use cvm::metrics::mean_std;
use cvm::{AccuracyMatrix, ConceptSpace, HeadKind, ImageView, Learner, LearnerConfig, PixelFormat, StudentConfig};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::Serialize;

use crate::data::{Dataset, SIDE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Finetune,
    Er,
    Cvm,
    CvmRandom,
    Joint,
}

impl Method {
    pub const ALL: [Method; 5] = [Method::Finetune, Method::Er, Method::Cvm, Method::CvmRandom, Method::Joint];

    pub fn name(self) -> &'static str {
        match self {
            Self::Finetune => "finetune",
            Self::Er => "er",
            Self::Cvm => "cvm",
            Self::CvmRandom => "cvm-random",
            Self::Joint => "joint",
        }
    }

    fn head(self) -> HeadKind {
        match self {
            Self::Cvm => HeadKind::Concepts,
            Self::CvmRandom => HeadKind::RandomAnchors,
            _ => HeadKind::Linear,
        }
    }

    /// Whether the method uses the replay memory (and so runs once per budget).
    pub fn uses_memory(self) -> bool {
        matches!(self, Self::Er | Self::Cvm | Self::CvmRandom)
    }
}

/// Sizes of one protocol run.
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    pub seeds: Vec<u64>,
    pub train_per_class: usize,
    pub test_per_class: usize,
    pub steps_per_experience: usize,
    pub batch_size: usize,
    pub memories: Vec<usize>,
    pub methods: Vec<Method>,
    /// Overrides of the learner's CVM settings (scale, mapping weight), if any.
    pub scale: Option<f32>,
    pub mapping_weight: Option<f32>,
}

impl Protocol {
    pub fn full() -> Self {
        Self {
            seeds: vec![0, 1, 2],
            train_per_class: 6000,
            test_per_class: 1000,
            steps_per_experience: 300,
            batch_size: 32,
            memories: vec![200, 500],
            methods: Method::ALL.to_vec(),
            scale: None,
            mapping_weight: None,
        }
    }

    pub fn quick() -> Self {
        Self { seeds: vec![0], train_per_class: 500, test_per_class: 200, steps_per_experience: 60, ..Self::full() }
    }
}

/// One run's outcome; serialised as a JSON object of the results file.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub dataset: String,
    pub method: Method,
    pub memory: usize,
    pub seed: u64,
    pub class_order: Vec<usize>,
    pub acc: f64,
    pub aia: f64,
    pub forgetting: f64,
    pub bwt: f64,
    /// `matrix[i][j]`: accuracy on experience `j` after experience `i` (0 above the diagonal: not yet seen).
    pub matrix: Vec<Vec<f64>>,
    pub seconds: f64,
}

/// Class order of a seed: seed 0 keeps the dataset's order, others shuffle.
pub fn class_order(seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..10).collect();
    if seed != 0 {
        order.shuffle(&mut StdRng::seed_from_u64(seed));
    }
    order
}

pub fn run(dataset: &Dataset, method: Method, memory: usize, seed: u64, protocol: &Protocol, concepts: &Arc<ConceptSpace>, device: &Device) -> Result<RunResult, String> {
    let started = Instant::now();
    let order = class_order(seed);
    let experiences: Vec<Vec<usize>> = if method == Method::Joint { vec![order.clone()] } else { order.chunks(2).map(<[usize]>::to_vec).collect() };
    let defaults = LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE));
    let config = LearnerConfig {
        head: method.head(),
        memory: if method.uses_memory() { memory } else { 0 },
        seed,
        batch_size: protocol.batch_size,
        scale: protocol.scale.unwrap_or(defaults.scale),
        mapping_weight: protocol.mapping_weight.unwrap_or(defaults.mapping_weight),
        ..defaults
    };
    let learner = Learner::new(config, concepts.clone(), device.clone()).map_err(|e| e.to_string())?;
    // Joint training gets the steps of all five experiences at once.
    let steps = protocol.steps_per_experience * if method == Method::Joint { 5 } else { 1 };
    let r = class_incremental(learner, dataset, &experiences, protocol.train_per_class, protocol.test_per_class, steps)?;
    Ok(RunResult {
        dataset: dataset.name.to_string(),
        method,
        memory: if method.uses_memory() { memory } else { 0 },
        seed,
        class_order: order,
        acc: r.final_accuracy(),
        aia: r.average_incremental_accuracy(),
        forgetting: r.forgetting(),
        bwt: r.backward_transfer(),
        matrix: r.0,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Teaches `experiences` (lists of dataset labels) one after another, `train_per_class` examples per class and
/// `steps` per experience, and returns the accuracy matrix on up to `test_per_class` test images per class.
pub fn class_incremental(mut learner: Learner, dataset: &Dataset, experiences: &[Vec<usize>], train_per_class: usize, test_per_class: usize, steps: usize) -> Result<AccuracyMatrix, String> {
    let train = dataset.train.by_class(train_per_class);
    let test = dataset.test.by_class(test_per_class);
    // Dataset label → learner class index.
    let mut class_of = [usize::MAX; 10];
    let mut matrix = Vec::new();
    for (i, experience) in experiences.iter().enumerate() {
        for &label in experience {
            class_of[label] = learner.add_class(dataset.class_names[label]).map_err(|e| e.to_string())?;
            let views = train[label]
                .iter()
                .map(|&s| ImageView::new(SIDE, SIDE, PixelFormat::Gray8, dataset.train.image(s)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            pollster::block_on(learner.add_examples(class_of[label], &views)).map_err(|e| e.to_string())?;
        }
        pollster::block_on(learner.train(steps)).map_err(|e| e.to_string())?;
        let row = (0..experiences.len())
            .map(|j| if j <= i { accuracy(&mut learner, dataset, &experiences[j], &test, &class_of) } else { Ok(0.0) })
            .collect::<Result<Vec<f64>, String>>()?;
        matrix.push(row);
    }
    Ok(AccuracyMatrix(matrix))
}

fn accuracy(learner: &mut Learner, dataset: &Dataset, experience: &[usize], test: &[Vec<usize>], class_of: &[usize; 10]) -> Result<f64, String> {
    let samples: Vec<(usize, usize)> = experience.iter().flat_map(|&l| test[l].iter().map(move |&s| (s, l))).collect();
    let mut correct = 0;
    for chunk in samples.chunks(100) {
        let views = chunk
            .iter()
            .map(|&(s, _)| ImageView::new(SIDE, SIDE, PixelFormat::Gray8, dataset.test.image(s)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let predictions = pollster::block_on(learner.predict_batch(&views)).map_err(|e| e.to_string())?;
        correct += predictions.iter().zip(chunk).filter(|(p, (_, l))| p.top() == Some(class_of[*l])).count();
    }
    Ok(correct as f64 / samples.len().max(1) as f64)
}

/// Markdown table: mean ± std over seeds of ACC, forgetting and AIA (percent) per dataset × method × memory.
pub fn table(results: &[RunResult]) -> String {
    let mut out = String::from("| dataset | method | memory | ACC (%) | forgetting (%) | AIA (%) | seeds |\n|---|---|---|---|---|---|---|\n");
    let mut keys: Vec<(String, Method, usize)> = Vec::new();
    for r in results {
        let key = (r.dataset.clone(), r.method, r.memory);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (dataset, method, memory) in keys {
        let runs: Vec<&RunResult> = results.iter().filter(|r| r.dataset == dataset && r.method == method && r.memory == memory).collect();
        let stat = |f: fn(&RunResult) -> f64| {
            let (m, s) = mean_std(&runs.iter().map(|r| 100.0 * f(r)).collect::<Vec<_>>());
            format!("{m:.1} ± {s:.1}")
        };
        let memory = if method.uses_memory() { memory.to_string() } else { "—".into() };
        let forgetting = if method == Method::Joint { "—".into() } else { stat(|r| r.forgetting) };
        out += &format!(
            "| {dataset} | {} | {memory} | {} | {forgetting} | {} | {} |\n",
            method.name(),
            stat(|r| r.acc),
            stat(|r| r.aia),
            runs.len()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cvm::{BlobDtype, ConceptBlob};

    #[test]
    #[ignore = "needs the data cache: run through `cargo xtask test`"]
    fn protocol_runs_end_to_end_on_a_subset() {
        let dataset = crate::data::fashion_mnist(&crate::data::tests::data_dir().join("fashion-mnist")).unwrap();
        let names: Vec<String> = dataset.class_names.iter().map(|s| s.to_string()).collect();
        let embeddings = (0..names.len() * 16).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
        let blob = ConceptBlob { names, embeddings, dim: 16, ..Default::default() };
        let concepts = Arc::new(ConceptSpace::from_bytes(&blob.to_bytes(BlobDtype::F32).unwrap()).unwrap());
        let protocol = Protocol { train_per_class: 30, test_per_class: 20, steps_per_experience: 8, ..Protocol::quick() };
        let device = Device::flex().autodiff();
        for method in [Method::Cvm, Method::Joint] {
            let r = run(&dataset, method, 40, 1, &protocol, &concepts, &device).unwrap();
            let t = if method == Method::Joint { 1 } else { 5 };
            assert_eq!(r.matrix.len(), t);
            assert!(r.matrix.iter().enumerate().all(|(i, row)| row.len() == t && row[i + 1..].iter().all(|&v| v == 0.0)));
            assert!((0.0..=1.0).contains(&r.acc) && (0.0..=1.0).contains(&r.aia));
            assert_eq!(r.class_order, class_order(1));
            assert_ne!(r.class_order, class_order(0));
        }
        let table = table(&[]);
        assert!(table.starts_with("| dataset |"));
    }
}
