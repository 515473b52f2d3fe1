//! Class-incremental protocols, and every method under one student, one replay budget and one step count.
//!
//! Protocols (on Split Fashion-MNIST and Split MNIST unless said otherwise):
//! - `single`: 10 experiences of one class each: what the page does, one new thing at a time;
//! - `split`: 5 experiences of 2 classes;
//! - `few-shot`: `single` with 20 examples per class, for the tiny CNN and for the pretrained trunk + adapter
//!   (images upsampled to the trunk's input), where the no-training baselines of web users (KNN, nearest
//!   class mean) run too;
//! - `combined`: MNIST and Fashion-MNIST together, 20 classes in 10 experiences of 2.
//!
//! Every method shares the student, the replay budget (in values: stored scores count against it), the batch
//! (new + as many replayed) and the steps; `joint` trains on everything at once for as many steps as all
//! experiences together. Each image is encoded once (pixels, or trunk features) and reused by every method and
//! seed. Seed 0 keeps the datasets' class order, other seeds shuffle it.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use cvm::metrics::mean_std;
use cvm::objective::{Incoming, Objective};
use cvm::trunk::Trunk;
use cvm::{AccuracyMatrix, ConceptSpace, HeadKind, ImageView, Learner, LearnerConfig, PixelFormat, StudentConfig};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, SIDE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Growing linear head, no replay.
    Finetune,
    /// Growing linear head + class-balanced replay.
    Er,
    /// ER with the asymmetric incoming loss (ER-ACE).
    ErAce,
    /// ER + replay of the scores stored with each sample (DER++).
    #[serde(rename = "der++")]
    DerPp,
    /// CVM as the product ships it ([`LearnerConfig::new`]).
    Cvm,
    /// CVM's first form: cross-entropy over anchors + mapping term, plain ER batches.
    CvmPlain,
    /// CVM without the distillation term.
    CvmNoDistill,
    /// CVM distilling only the samples of old classes, not those of the classes being learnt.
    CvmDistillOldOnly,
    /// CVM with the symmetric incoming loss.
    CvmNoAce,
    /// CVM plus the metric (triplet) term.
    CvmTriplet,
    /// CVM with random unit anchors instead of the language model's (does language help?).
    CvmRandom,
    /// All classes at once (linear head): the reference without forgetting.
    Joint,
    /// No training: cosine k-nearest-neighbours (k = 3) over every example, as ml5's and TF.js's KNN do.
    Knn,
    /// No training: nearest class mean (cosine) over every example.
    Ncm,
}

/// Weight of the stored-score replay of DER++ (its replay cross-entropy has weight 1, like ER's).
pub const DER_ALPHA: f32 = 0.3;

impl Method {
    pub const ALL: [Method; 14] = [
        Method::Finetune,
        Method::Er,
        Method::ErAce,
        Method::DerPp,
        Method::Cvm,
        Method::CvmPlain,
        Method::CvmNoDistill,
        Method::CvmDistillOldOnly,
        Method::CvmNoAce,
        Method::CvmTriplet,
        Method::CvmRandom,
        Method::Joint,
        Method::Knn,
        Method::Ncm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Finetune => "finetune",
            Self::Er => "er",
            Self::ErAce => "er-ace",
            Self::DerPp => "der++",
            Self::Cvm => "cvm",
            Self::CvmPlain => "cvm-plain",
            Self::CvmNoDistill => "cvm-no-distill",
            Self::CvmDistillOldOnly => "cvm-distill-old-only",
            Self::CvmNoAce => "cvm-no-ace",
            Self::CvmTriplet => "cvm-triplet",
            Self::CvmRandom => "cvm-random",
            Self::Joint => "joint",
            Self::Knn => "knn",
            Self::Ncm => "ncm",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|m| m.name() == name.trim()).ok_or_else(|| format!("unknown method `{name}`"))
    }

    /// Whether the method keeps a replay memory (and so runs once per budget).
    pub fn uses_memory(self) -> bool {
        !matches!(self, Self::Finetune | Self::Joint | Self::Knn | Self::Ncm)
    }

    /// Whether the method trains a learner (KNN and NCM only store examples).
    fn trains(self) -> bool {
        !matches!(self, Self::Knn | Self::Ncm)
    }

    /// The learner settings of the method in `protocol`: `protocol.cvm` for CVM (the product's defaults unless
    /// a sweep says otherwise), each ablation one change away from it.
    pub fn config(self, protocol: &Protocol, student: StudentConfig, memory: usize, seed: u64) -> LearnerConfig {
        let product = LearnerConfig::new(student);
        let cvm = protocol.cvm;
        let (head, objective) = match self {
            Self::Finetune | Self::Er | Self::Joint | Self::Knn | Self::Ncm => (HeadKind::Linear, Objective::default()),
            Self::ErAce => (HeadKind::Linear, Objective { incoming: Incoming::Current, ..Objective::default() }),
            Self::DerPp => (HeadKind::Linear, Objective { score_replay_weight: DER_ALPHA, ..Objective::default() }),
            Self::Cvm => (HeadKind::Concepts, cvm),
            Self::CvmPlain => (HeadKind::Concepts, Objective::default()),
            Self::CvmNoDistill => (HeadKind::Concepts, Objective { distill_weight: 0.0, ..cvm }),
            Self::CvmDistillOldOnly => (HeadKind::Concepts, Objective { distill_old_only: true, ..cvm }),
            Self::CvmNoAce => (HeadKind::Concepts, Objective { incoming: Incoming::All, ..cvm }),
            Self::CvmTriplet => (HeadKind::Concepts, Objective { triplet_weight: 1.0, ..cvm }),
            Self::CvmRandom => (HeadKind::RandomAnchors, cvm),
        };
        let memory = if self.uses_memory() { memory } else { 0 };
        LearnerConfig {
            head,
            objective,
            memory,
            seed,
            batch_size: protocol.batch_size,
            learning_rate: protocol.learning_rate,
            ..product
        }
    }
}

/// Which student a protocol trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Student {
    /// The tiny CNN from scratch on the 28×28 images.
    TinyCnn,
    /// The frozen pretrained trunk + adapter on the images upsampled to its input.
    Adapter,
}

/// One protocol's sizes and methods.
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    pub name: &'static str,
    pub student: Student,
    /// Datasets by name (`combined` is MNIST + Fashion-MNIST).
    pub datasets: Vec<&'static str>,
    pub classes_per_experience: usize,
    pub train_per_class: usize,
    pub test_per_class: usize,
    pub steps_per_experience: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub memories: Vec<usize>,
    pub methods: Vec<Method>,
    /// The objective of the `cvm` rows, from which the ablations differ by one setting.
    pub cvm: Objective,
}

const BASELINES: [Method; 4] = [Method::Finetune, Method::Er, Method::ErAce, Method::DerPp];
const CVMS: [Method; 7] = [
    Method::Cvm,
    Method::CvmPlain,
    Method::CvmNoDistill,
    Method::CvmDistillOldOnly,
    Method::CvmNoAce,
    Method::CvmTriplet,
    Method::CvmRandom,
];

/// The full benchmark: every protocol, 5 seeds (class orders). Sized to run in about three hours on 2 cores.
pub fn full() -> Vec<Protocol> {
    let every = [BASELINES.as_slice(), CVMS.as_slice(), &[Method::Joint]].concat();
    let core = [BASELINES.as_slice(), &[Method::Cvm, Method::CvmRandom, Method::Joint]].concat();
    let single = Protocol {
        name: "single",
        student: Student::TinyCnn,
        datasets: vec!["fashion-mnist", "mnist"],
        classes_per_experience: 1,
        train_per_class: 1000,
        test_per_class: 300,
        steps_per_experience: 100,
        batch_size: 32,
        learning_rate: LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE)).learning_rate,
        memories: vec![200],
        methods: every,
        cvm: LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE)).objective,
    };
    vec![
        single.clone(),
        Protocol {
            name: "split",
            classes_per_experience: 2,
            steps_per_experience: 200,
            methods: core.clone(),
            ..single.clone()
        },
        Protocol {
            name: "combined",
            datasets: vec!["combined"],
            classes_per_experience: 2,
            methods: core,
            ..single.clone()
        },
        Protocol {
            name: "few-shot",
            train_per_class: 20,
            test_per_class: 100,
            steps_per_experience: 60,
            memories: vec![100],
            methods: [BASELINES.as_slice(), &[Method::Cvm, Method::CvmRandom, Method::Knn, Method::Ncm]].concat(),
            ..single.clone()
        },
        Protocol {
            name: "few-shot",
            student: Student::Adapter,
            train_per_class: 20,
            test_per_class: 100,
            steps_per_experience: 60,
            memories: vec![100],
            methods: [BASELINES.as_slice(), CVMS.as_slice(), &[Method::Knn, Method::Ncm]].concat(),
            ..single
        },
    ]
}

/// Every protocol and method on a small subset with few steps, one seed: a look at everything in under five
/// minutes on 2 cores (the figures are not the benchmark's).
pub fn quick() -> Vec<Protocol> {
    full()
        .into_iter()
        .map(|p| Protocol {
            train_per_class: p.train_per_class.min(100),
            test_per_class: p.test_per_class.min(20),
            steps_per_experience: p.steps_per_experience.min(15),
            ..p
        })
        .collect()
}

/// One run's outcome; serialised as a JSON object of the results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub protocol: String,
    pub student: Student,
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

impl RunResult {
    /// What identifies a run: a later run with the same key replaces it (see [`merge`]).
    fn key(&self) -> (&str, Student, &str, Method, usize, u64) {
        (&self.protocol, self.student, &self.dataset, self.method, self.memory, self.seed)
    }
}

/// `later` runs added to `results`, each replacing the run of `results` with the same protocol, student,
/// dataset, method, memory and seed (a re-recorded row), in place; new runs are appended.
pub fn merge(results: &mut Vec<RunResult>, later: Vec<RunResult>) {
    for run in later {
        match results.iter_mut().find(|r| r.key() == run.key()) {
            Some(old) => *old = run,
            None => results.push(run),
        }
    }
}

/// Class order of a seed over `n` classes: seed 0 keeps the dataset's order, others shuffle.
pub fn class_order(seed: u64, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if seed != 0 {
        order.shuffle(&mut StdRng::seed_from_u64(seed));
    }
    order
}

/// A dataset's images as the student stores them (pixels, or trunk features), per class.
pub struct Encoded {
    pub sample_len: usize,
    /// Per class: `train_per_class` samples, concatenated.
    pub train: Vec<Vec<f32>>,
    pub test: Vec<Vec<f32>>,
}

impl Encoded {
    /// Encodes the first `train` and `test` images of each class with `learner` (a learner of the student).
    pub fn new(learner: &mut Learner, dataset: &Dataset, train: usize, test: usize) -> Result<Self, String> {
        let mut encode = |split: &crate::data::Split, per_class: usize| -> Result<Vec<Vec<f32>>, String> {
            let mut out = Vec::new();
            for samples in split.by_class(dataset.classes(), per_class) {
                let mut encoded = Vec::new();
                for chunk in samples.chunks(100) {
                    let views = chunk
                        .iter()
                        .map(|&s| ImageView::new(SIDE, SIDE, PixelFormat::Gray8, split.image(s)))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())?;
                    encoded.extend(pollster::block_on(learner.encode(&views)).map_err(|e| e.to_string())?);
                }
                out.push(encoded);
            }
            Ok(out)
        };
        let train = encode(&dataset.train, train)?;
        let test = encode(&dataset.test, test)?;
        Ok(Self { sample_len: learner.config().student.sample_len(), train, test })
    }
}

/// The student config of a protocol.
pub fn student_config(student: Student, trunk: Option<&Trunk>) -> Result<StudentConfig, String> {
    Ok(match student {
        Student::TinyCnn => StudentConfig::tiny_cnn(1, SIDE),
        Student::Adapter => StudentConfig::adapter(
            trunk.ok_or("the adapter student needs the trunk (--student FILE)")?.input(),
            cvm::efficientnet::FEATURES,
        ),
    })
}

/// A learner of `config`, on the trunk when the student needs one.
pub fn learner(
    config: LearnerConfig,
    trunk: Option<&Trunk>,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
) -> Result<Learner, String> {
    match trunk.filter(|_| config.student.has_trunk()) {
        Some(trunk) => Learner::with_trunk(config, concepts.clone(), trunk.clone(), device.clone()),
        None => Learner::new(config, concepts.clone(), device.clone()),
    }
    .map_err(|e| e.to_string())
}

/// One run of `method` on `protocol` with one memory budget and one seed.
#[allow(clippy::too_many_arguments)]
pub fn run(
    protocol: &Protocol,
    dataset: &Dataset,
    encoded: &Encoded,
    method: Method,
    memory: usize,
    seed: u64,
    trunk: Option<&Trunk>,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
) -> Result<RunResult, String> {
    let started = Instant::now();
    let order = class_order(seed, dataset.classes());
    let experiences: Vec<Vec<usize>> = if method == Method::Joint {
        vec![order.clone()]
    } else {
        order.chunks(protocol.classes_per_experience).map(<[usize]>::to_vec).collect()
    };
    let matrix = if method.trains() {
        let config = method.config(protocol, student_config(protocol.student, trunk)?, memory, seed);
        let learner = learner(config, trunk, concepts, device)?;
        // Joint training gets the steps of all experiences at once.
        let steps = protocol.steps_per_experience
            * if method == Method::Joint { order.len() / protocol.classes_per_experience } else { 1 };
        class_incremental(learner, dataset, encoded, &experiences, steps)?
    } else {
        nearest(method, encoded, &experiences)
    };
    Ok(RunResult {
        protocol: protocol.name.to_string(),
        student: protocol.student,
        dataset: dataset.name.to_string(),
        method,
        memory: if method.uses_memory() { memory } else { 0 },
        seed,
        class_order: order,
        acc: matrix.final_accuracy(),
        aia: matrix.average_incremental_accuracy(),
        forgetting: matrix.forgetting(),
        bwt: matrix.backward_transfer(),
        matrix: matrix.0,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Teaches `experiences` (lists of dataset labels) one after another, `steps` per experience, and returns the
/// accuracy matrix on the encoded test samples.
pub fn class_incremental(
    mut learner: Learner,
    dataset: &Dataset,
    encoded: &Encoded,
    experiences: &[Vec<usize>],
    steps: usize,
) -> Result<AccuracyMatrix, String> {
    let mut class_of = vec![usize::MAX; dataset.classes()];
    let mut matrix = Vec::new();
    for (i, experience) in experiences.iter().enumerate() {
        for &label in experience {
            class_of[label] = learner.add_class(dataset.class_names[label]).map_err(|e| e.to_string())?;
            learner.add_samples(class_of[label], &encoded.train[label]).map_err(|e| e.to_string())?;
        }
        pollster::block_on(learner.train(steps)).map_err(|e| e.to_string())?;
        let mut row = vec![0.0; experiences.len()];
        for (j, seen) in experiences[..=i].iter().enumerate() {
            let (mut correct, mut total) = (0, 0);
            for &label in seen {
                let predictions =
                    pollster::block_on(learner.predict_samples(&encoded.test[label])).map_err(|e| e.to_string())?;
                correct += predictions.iter().filter(|p| p.top() == Some(class_of[label])).count();
                total += predictions.len();
            }
            row[j] = correct as f64 / total.max(1) as f64;
        }
        matrix.push(row);
    }
    Ok(AccuracyMatrix(matrix))
}

/// KNN (k = 3, cosine, majority vote, ties to the larger summed similarity) or nearest class mean over every
/// encoded training example of the classes seen so far: no training, so no forgetting but what new classes
/// take.
pub fn nearest(method: Method, encoded: &Encoded, experiences: &[Vec<usize>]) -> AccuracyMatrix {
    let len = encoded.sample_len;
    let unit = |v: &[f32]| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter().map(|x| x / norm).collect::<Vec<f32>>()
    };
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let train: Vec<Vec<Vec<f32>>> = encoded.train.iter().map(|c| c.chunks_exact(len).map(unit).collect()).collect();
    let means: Vec<Vec<f32>> = train
        .iter()
        .map(|rows| unit(&(0..len).map(|d| rows.iter().map(|r| r[d]).sum::<f32>()).collect::<Vec<_>>()))
        .collect();
    let classify = |x: &[f32], seen: &[usize]| -> usize {
        if method == Method::Ncm {
            return *seen
                .iter()
                .max_by(|&&a, &&b| dot(x, &means[a]).total_cmp(&dot(x, &means[b])))
                .expect("a class is seen");
        }
        let mut neighbours: Vec<(f32, usize)> =
            seen.iter().flat_map(|&c| train[c].iter().map(move |r| (dot(x, r), c))).collect();
        neighbours.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut votes: Vec<(usize, f32, usize)> = Vec::new(); // (votes, summed similarity, class)
        for &(s, c) in neighbours.iter().take(3) {
            match votes.iter_mut().find(|v| v.2 == c) {
                Some(v) => {
                    v.0 += 1;
                    v.1 += s;
                }
                None => votes.push((1, s, c)),
            }
        }
        votes.iter().max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))).expect("k ≥ 1").2
    };
    let mut matrix = Vec::new();
    let mut seen = Vec::new();
    for (i, experience) in experiences.iter().enumerate() {
        seen.extend_from_slice(experience);
        let mut row = vec![0.0; experiences.len()];
        for (j, classes) in experiences[..=i].iter().enumerate() {
            let (mut correct, mut total) = (0, 0);
            for &label in classes {
                for x in encoded.test[label].chunks_exact(len) {
                    correct += (classify(&unit(x), &seen) == label) as usize;
                    total += 1;
                }
            }
            row[j] = correct as f64 / total.max(1) as f64;
        }
        matrix.push(row);
    }
    AccuracyMatrix(matrix)
}

/// The rows of one table: `(protocol, student, dataset, memory)` groups in first-seen order.
fn groups(results: &[RunResult]) -> Vec<(String, Student, String, usize)> {
    let mut keys = Vec::new();
    for r in results.iter().filter(|r| r.method.uses_memory()) {
        let key = (r.protocol.clone(), r.student, r.dataset.clone(), r.memory);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

fn student_name(student: Student) -> &'static str {
    match student {
        Student::TinyCnn => "tiny CNN",
        Student::Adapter => "trunk + adapter",
    }
}

/// Markdown tables: mean ± std over seeds of ACC, forgetting and AIA (percent) per method, and the paired
/// difference of CVM's final accuracy minus each other method's, seed by seed.
pub fn table(results: &[RunResult]) -> String {
    let mut out = String::new();
    for (protocol, student, dataset, memory) in groups(results) {
        let in_group = |r: &&RunResult| {
            r.protocol == protocol
                && r.student == student
                && r.dataset == dataset
                && (!r.method.uses_memory() || r.memory == memory)
        };
        let runs: Vec<&RunResult> = results.iter().filter(in_group).collect();
        out += &format!("\n**{protocol}, {dataset}, {}, memory {memory}**\n\n", student_name(student));
        out += "| method | ACC (%) | forgetting (%) | AIA (%) | CVM − method, ACC (paired, points) | seeds |\n|---|---|---|---|---|---|\n";
        let cvm: Vec<&RunResult> = runs.iter().copied().filter(|r| r.method == Method::Cvm).collect();
        for method in Method::ALL {
            let of: Vec<&RunResult> = runs.iter().copied().filter(|r| r.method == method).collect();
            if of.is_empty() {
                continue;
            }
            let stat = |f: fn(&RunResult) -> f64| {
                let (m, s) = mean_std(&of.iter().map(|r| 100.0 * f(r)).collect::<Vec<_>>());
                format!("{m:.1} ± {s:.1}")
            };
            let diffs: Vec<f64> = of
                .iter()
                .filter_map(|r| cvm.iter().find(|c| c.seed == r.seed).map(|c| 100.0 * (c.acc - r.acc)))
                .collect();
            let paired = if method == Method::Cvm || diffs.is_empty() {
                "—".to_string()
            } else {
                let (m, s) = mean_std(&diffs);
                format!("{m:+.1} ± {s:.1}")
            };
            let forgetting = if method == Method::Joint { "—".into() } else { stat(|r| r.forgetting) };
            out += &format!(
                "| {} | {} | {forgetting} | {} | {paired} | {} |\n",
                method.name(),
                stat(|r| r.acc),
                stat(|r| r.aia),
                of.len()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cvm::{BlobDtype, ConceptBlob};

    #[test]
    fn a_rerecorded_run_replaces_the_old_one_and_new_runs_are_added() {
        let run = |method, seed, acc| RunResult {
            protocol: "single".into(),
            student: Student::TinyCnn,
            dataset: "mnist".into(),
            method,
            memory: 200,
            seed,
            class_order: vec![0, 1],
            acc,
            aia: acc,
            forgetting: 0.0,
            bwt: 0.0,
            matrix: vec![vec![acc]],
            seconds: 1.0,
        };
        let mut results = vec![run(Method::Er, 0, 0.5), run(Method::Cvm, 0, 0.6), run(Method::Cvm, 1, 0.7)];
        let text = serde_json::to_string(&[run(Method::Cvm, 0, 0.8), run(Method::Cvm, 2, 0.9)]).unwrap();
        merge(&mut results, serde_json::from_str(&text).unwrap());
        let seen: Vec<(Method, u64, f64)> = results.iter().map(|r| (r.method, r.seed, r.acc)).collect();
        assert_eq!(seen, [(Method::Er, 0, 0.5), (Method::Cvm, 0, 0.8), (Method::Cvm, 1, 0.7), (Method::Cvm, 2, 0.9)]);
    }

    #[test]
    fn every_method_is_one_setting_away_from_the_product() {
        let student = StudentConfig::tiny_cnn(1, SIDE);
        let product = LearnerConfig::new(student.clone());
        let protocol = full().remove(0);
        for method in Method::ALL {
            let config = method.config(&protocol, student.clone(), 200, 3);
            config.validate().unwrap();
            assert_eq!(
                (config.seed, config.batch_size, config.learning_rate),
                (3, 32, product.learning_rate),
                "{method:?}"
            );
            assert_eq!(config.memory, if method.uses_memory() { 200 } else { 0 }, "{method:?}");
            assert_eq!(Method::parse(method.name()), Ok(method));
        }
        assert_eq!(Method::Cvm.config(&protocol, student.clone(), 200, 0).objective, product.objective);
        assert_eq!(Method::Er.config(&protocol, student.clone(), 200, 0).objective, Objective::default());
        assert_eq!(Method::ErAce.config(&protocol, student, 200, 0).objective.incoming, Incoming::Current);
    }

    #[test]
    fn nearest_baselines_classify_separable_samples() {
        // Two classes along two axes, with a little noise; a third class arrives later along a third axis.
        let sample =
            |axis: usize, noise: f32| (0..3).map(|d| if d == axis { 1.0 } else { noise }).collect::<Vec<f32>>();
        let encoded = Encoded {
            sample_len: 3,
            train: (0..3).map(|c| [sample(c, 0.1), sample(c, 0.2)].concat()).collect(),
            test: (0..3).map(|c| [sample(c, 0.3), sample(c, 0.0)].concat()).collect(),
        };
        for method in [Method::Knn, Method::Ncm] {
            let m = nearest(method, &encoded, &[vec![0, 1], vec![2]]);
            assert_eq!(m.0, vec![vec![1.0, 0.0], vec![1.0, 1.0]], "{method:?}");
        }
    }

    #[test]
    #[ignore = "needs the data cache: run through `cargo xtask test`"]
    fn protocol_runs_end_to_end_on_a_subset() {
        let dataset = crate::data::fashion_mnist(&crate::data::tests::data_dir().join("fashion-mnist")).unwrap();
        let names: Vec<String> = dataset.class_names.iter().map(|s| s.to_string()).collect();
        let embeddings = (0..names.len() * 16).map(|i| ((i * 7919) % 23) as f32 - 11.0).collect();
        let blob = ConceptBlob { names, embeddings, dim: 16, ..Default::default() };
        let concepts = Arc::new(ConceptSpace::from_bytes(&blob.to_bytes(BlobDtype::F32).unwrap()).unwrap());
        let protocol = Protocol {
            train_per_class: 30,
            test_per_class: 20,
            steps_per_experience: 8,
            classes_per_experience: 2,
            ..full().remove(0)
        };
        let device = Device::flex().autodiff();
        let mut encoder =
            learner(LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE)), None, &concepts, &device).unwrap();
        let encoded = Encoded::new(&mut encoder, &dataset, protocol.train_per_class, protocol.test_per_class).unwrap();
        let mut results = Vec::new();
        for method in [Method::Cvm, Method::DerPp, Method::ErAce, Method::Joint, Method::Knn] {
            let r = run(&protocol, &dataset, &encoded, method, 40, 1, None, &concepts, &device).unwrap();
            let t = if method == Method::Joint { 1 } else { 5 };
            assert_eq!(r.matrix.len(), t);
            assert!(
                r.matrix.iter().enumerate().all(|(i, row)| row.len() == t && row[i + 1..].iter().all(|&v| v == 0.0))
            );
            assert!((0.0..=1.0).contains(&r.acc) && (0.0..=1.0).contains(&r.aia));
            assert_eq!(r.class_order, class_order(1, 10));
            assert_ne!(r.class_order, class_order(0, 10));
            results.push(r);
        }
        let table = table(&results);
        assert!(table.contains("| der++ |") && table.contains("| cvm | "), "{table}");
    }
}
