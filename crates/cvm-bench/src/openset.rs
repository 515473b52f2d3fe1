//! `cvm-bench openset`: does "unknown" mean unknown?
//!
//! Classes are taught one at a time, as on the page. After 1, 2, 5 and 10 of them, held-out inputs of the
//! taught classes are scored against inputs of classes never taught: *near* (the untaught classes of the same
//! source) and *far* (another source), by each candidate open-set score. AUROC and the false-accept rate at
//! 95 % true accepts are threshold-free; the learner's own calibrated decision (`Prediction::class == None`)
//! is reported as its true- and false-accept rates, and each near unknown class on its own (which are hard, and
//! what they are taken for).
//!
//! Scenarios: `fashion-mnist` and `mnist` with the tiny CNN (far: the other dataset), `fashion-mnist-trunk`
//! with the trunk + adapter on the same images upsampled, and `photos` with the trunk + adapter: webcam-like clips of foolbox's ImageNet photos under a moving crop, made as the page's
//! end-to-end test makes its fake camera (taught: the first 2 s at the page's 8 frames/s; known test frames:
//! later in the clip), with the package's CIFAR photos as far unknowns.

use std::path::Path;
use std::sync::Arc;

use burn::prelude::*;
use burn::tensor::{Device, TensorData};
use cvm::metrics::mean_std;
use cvm::openset::NearestExamples;
use cvm::trunk::Trunk;
use cvm::{ConceptSpace, ImageView, Learner, LearnerConfig, PixelFormat, Samples};
use serde::Serialize;

use crate::cl::{Encoded, Student, class_order, learner, student_config};
use crate::data::{self, Dataset};

/// Numbers of taught classes after which the scores are measured.
pub const CHECKPOINTS: [usize; 4] = [1, 2, 5, 10];

/// The candidate open-set scores (higher: more likely one of the taught classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Score {
    /// The best taught class's cosine to its anchor (the learner's earlier rule, with a fixed threshold).
    MaxCosine,
    /// The best class's softmax probability (always 1 with one class).
    MaxProbability,
    /// Best taught anchor's cosine minus the best untaught vocabulary concept's.
    VocabularyMargin,
    /// k-th nearest stored example of the predicted class, in the student's input space (trunk features or
    /// pixels), minus the class's calibrated threshold.
    NearestInput,
    /// The same in the concept space (the student's output).
    NearestEmbedding,
}

impl Score {
    pub const ALL: [Score; 5] = [
        Score::MaxCosine,
        Score::MaxProbability,
        Score::VocabularyMargin,
        Score::NearestInput,
        Score::NearestEmbedding,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::MaxCosine => "max cosine",
            Self::MaxProbability => "max probability",
            Self::VocabularyMargin => "vocabulary margin",
            Self::NearestInput => "nearest example (input)",
            Self::NearestEmbedding => "nearest example (concept space)",
        }
    }
}

/// Classes with encoded train and test samples, and encoded inputs of another source.
pub struct Scenario {
    pub name: &'static str,
    pub student: Student,
    pub class_names: Vec<String>,
    pub encoded: Encoded,
    /// Far unknowns, encoded, concatenated.
    pub far: Vec<f32>,
    pub steps: usize,
    pub memory: usize,
}

/// Threshold-free figures of one score at one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    pub seed: u64,
    pub taught: usize,
    pub score: Score,
    /// `None` once every class of the source is taught.
    pub auroc_near: Option<f64>,
    pub false_accept_near: Option<f64>,
    pub auroc_far: f64,
    pub false_accept_far: f64,
}

/// The learner's own decision at one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub scenario: String,
    pub seed: u64,
    pub taught: usize,
    pub true_accept: f64,
    pub false_accept_near: Option<f64>,
    pub false_accept_far: f64,
    /// Held-out accuracy among the taught classes (best guess), for context.
    pub accuracy: f64,
}

/// How inputs of one never-taught class of the same source fare at one checkpoint: which near unknowns are
/// hard, and what they are taken for.
#[derive(Debug, Clone, Serialize)]
pub struct NearClass {
    pub scenario: String,
    pub seed: u64,
    pub taught: usize,
    pub class: String,
    /// AUROC of the learner's score (nearest example, input space): the taught classes' inputs against this
    /// class's.
    pub auroc: f64,
    /// The share of this class's inputs the learner accepts as one of the taught classes.
    pub false_accept: f64,
    /// The taught class those accepted inputs are most often taken for.
    pub taken_for: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub decisions: Vec<Decision>,
    pub near_classes: Vec<NearClass>,
}

/// The scenario on `dataset` with `learner`'s student, with `other`'s test images as far unknowns: the tiny
/// CNN with the continual-learning benchmark's sizes, or the trunk + adapter (images upsampled) with the
/// page's (20 examples a class, 60 steps, its memory).
pub fn grey(
    name: &'static str,
    learner: &mut Learner,
    dataset: &Dataset,
    other: &Dataset,
    quick: bool,
) -> Result<Scenario, String> {
    let student = if learner.config().student.has_trunk() { Student::Adapter } else { Student::TinyCnn };
    let (train, test, far, steps, memory) = match (student, quick) {
        (Student::TinyCnn, false) => (500, 200, 100, 100, 200),
        (Student::TinyCnn, true) => (100, 40, 20, 15, 200),
        (Student::Adapter, quick) => (
            20,
            if quick { 10 } else { 50 },
            if quick { 5 } else { 20 },
            60,
            LearnerConfig::new(learner.config().student.clone()).memory,
        ),
    };
    let encoded = Encoded::new(learner, dataset, train, test)?;
    let far = Encoded::new(learner, other, 0, far)?.test.concat();
    Ok(Scenario {
        name,
        student,
        class_names: dataset.class_names.iter().map(|s| s.to_string()).collect(),
        encoded,
        far,
        steps,
        memory,
    })
}

/// The webcam-like scenario: foolbox's ImageNet photos as clips (one class each, named by their ImageNet
/// label; `train` frames from the first 2 s, `test` frames from 2.5–6 s), its CIFAR photos as far unknowns
/// (`far` frames each).
pub fn photos(
    learner: &mut Learner,
    dir: &Path,
    names: &Path,
    concepts: &ConceptSpace,
    [train_frames, test_frames, far_frames]: [usize; 3],
) -> Result<Scenario, String> {
    let labels: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&std::fs::read(names).map_err(|e| format!("{}: {e}", names.display()))?)
            .map_err(|e| e.to_string())?;
    let mut class_names = Vec::new();
    let (mut train, mut test, mut far) = (Vec::new(), Vec::new(), Vec::new());
    for (set, label, path) in data::foolbox_photos(dir)? {
        let photo = data::Photo::open(&path)?;
        if set == "imagenet" {
            // The vocabulary entry of the first of the label's names that has one, else the nearest spelling.
            let names = labels
                .get(&label.to_string())
                .ok_or_else(|| format!("{}: ImageNet label {label} has no name", path.display()))?;
            let found = names.split(", ").find_map(|n| concepts.lookup(n).ok()).map(|i| concepts.name(i).to_string());
            let Some(name) = found.or_else(|| concepts.suggest(names, 1).pop()) else { continue };
            if class_names.contains(&name) {
                continue; // a second photo of a class already taught (two jeeps)
            }
            class_names.push(name);
            let times = |from: f64, step: f64, n: usize| (0..n).map(move |i| from + step * i as f64);
            train.push(encode(learner, &photo, times(0.0, 2.0 / train_frames as f64, train_frames))?);
            test.push(encode(learner, &photo, times(2.5, 3.5 / test_frames as f64, test_frames))?);
        } else {
            far.extend(encode(learner, &photo, (0..far_frames).map(|i| 0.7 * i as f64))?);
        }
    }
    let sample_len = learner.config().student.sample_len();
    Ok(Scenario {
        name: "photos",
        student: Student::Adapter,
        class_names,
        encoded: Encoded { sample_len, train, test },
        far,
        steps: 60,
        memory: LearnerConfig::new(learner.config().student.clone()).memory,
    })
}

pub(crate) fn encode(
    learner: &mut Learner,
    photo: &data::Photo,
    times: impl Iterator<Item = f64>,
) -> Result<Vec<f32>, String> {
    let frames: Vec<image::RgbImage> = times.map(|t| photo.frame(t)).collect();
    let views = frames
        .iter()
        .map(|f| ImageView::new(f.width() as usize, f.height() as usize, PixelFormat::Rgb8, f.as_raw()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    pollster::block_on(learner.encode(&views)).map_err(|e| e.to_string())
}

/// Teaches the scenario's classes in the seed's order and measures every score at each checkpoint.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    trunk: Option<&Trunk>,
    concepts: &Arc<ConceptSpace>,
    device: &Device,
    report: &mut Report,
) -> Result<(), String> {
    let classes = scenario.class_names.len();
    let order = class_order(seed, classes);
    let last = CHECKPOINTS.iter().copied().filter(|&c| c <= classes).max().unwrap_or(1);
    let config =
        LearnerConfig { memory: scenario.memory, seed, ..LearnerConfig::new(student_config(scenario.student, trunk)?) };
    let mut learner = learner(config, trunk, concepts, device)?;
    let vocabulary = Tensor::<2>::from_data(
        TensorData::new(
            (0..concepts.len()).flat_map(|i| concepts.embedding(i).to_vec()).collect::<Vec<f32>>(),
            [concepts.len(), concepts.dim()],
        ),
        device,
    );
    let cap = |samples: Vec<f32>, len: usize, most: usize| -> Vec<f32> {
        let n = samples.len() / len;
        (0..n.min(most)).flat_map(|i| samples[(i * n / n.min(most)) * len..][..len].to_vec()).collect()
    };
    let len = scenario.encoded.sample_len;
    for (i, &label) in order.iter().take(last).enumerate() {
        let class = learner.add_class(&scenario.class_names[label]).map_err(|e| e.to_string())?;
        learner.add_samples(class, &scenario.encoded.train[label]).map_err(|e| e.to_string())?;
        pollster::block_on(learner.train(scenario.steps)).map_err(|e| e.to_string())?;
        let taught = i + 1;
        if !CHECKPOINTS.contains(&taught) {
            continue;
        }
        let known: Vec<f32> = order[..taught].iter().flat_map(|&l| scenario.encoded.test[l].clone()).collect();
        let truth: Vec<usize> = order[..taught]
            .iter()
            .enumerate()
            .flat_map(|(c, &l)| std::iter::repeat_n(c, scenario.encoded.test[l].len() / len))
            .collect();
        let near = cap(order[taught..].iter().flat_map(|&l| scenario.encoded.test[l].clone()).collect(), len, 1000);
        let far = cap(scenario.far.clone(), len, 1000);
        let measured = Measure::new(&mut learner, &vocabulary)?;
        let known = measured.scores(&mut learner, &known)?;
        let near = (!near.is_empty()).then(|| measured.scores(&mut learner, &near)).transpose()?;
        let far = measured.scores(&mut learner, &far)?;
        for score in Score::ALL {
            let of = |set: &Scored| set.values.iter().map(|v| v[score as usize]).collect::<Vec<f64>>();
            report.rows.push(Row {
                scenario: scenario.name.into(),
                seed,
                taught,
                score,
                auroc_near: near.as_ref().map(|n| auroc(&of(&known), &of(n))),
                false_accept_near: near.as_ref().map(|n| false_accepts(&of(&known), &of(n), 0.95)),
                auroc_far: auroc(&of(&known), &of(&far)),
                false_accept_far: false_accepts(&of(&known), &of(&far), 0.95),
            });
        }
        let accepted =
            |set: &Scored| set.accepted.iter().filter(|&&a| a).count() as f64 / set.accepted.len().max(1) as f64;
        report.decisions.push(Decision {
            scenario: scenario.name.into(),
            seed,
            taught,
            true_accept: accepted(&known),
            false_accept_near: near.as_ref().map(accepted),
            false_accept_far: accepted(&far),
            accuracy: known.top.iter().zip(&truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64,
        });
        let learners_score = |set: &Scored| set.values.iter().map(|v| v[Score::NearestInput as usize]).collect();
        let taught_scores: Vec<f64> = learners_score(&known);
        for &label in &order[taught..] {
            let class = measured.scores(&mut learner, &cap(scenario.encoded.test[label].clone(), len, 100))?;
            let mut taken = vec![0usize; taught];
            class.accepted.iter().zip(&class.top).filter(|(a, _)| **a).for_each(|(_, &top)| taken[top] += 1);
            let taken_for = (0..taught).filter(|&c| taken[c] > 0).max_by_key(|&c| taken[c]);
            report.near_classes.push(NearClass {
                scenario: scenario.name.into(),
                seed,
                taught,
                class: scenario.class_names[label].clone(),
                auroc: auroc(&taught_scores, &learners_score(&class)),
                false_accept: accepted(&class),
                taken_for: taken_for.map(|c| scenario.class_names[order[c]].clone()),
            });
        }
    }
    Ok(())
}

/// Per input: every score, the learner's decision and its best class.
struct Scored {
    values: Vec<[f64; 5]>,
    accepted: Vec<bool>,
    top: Vec<usize>,
}

/// What the scores compare against at one checkpoint: the learner's stored examples in both spaces,
/// calibrated as the learner calibrates them, and which vocabulary rows are taught.
struct Measure<'a> {
    input: NearestExamples,
    embedding: NearestExamples,
    vocabulary: &'a Tensor<2>,
    taught: Vec<bool>,
}

impl<'a> Measure<'a> {
    fn new(learner: &mut Learner, vocabulary: &'a Tensor<2>) -> Result<Self, String> {
        let config = learner.config().clone();
        let (len, stored) = (config.student.sample_len(), config.stored_len());
        let memory = learner.memory().samples().clone();
        let inputs: Vec<f32> = memory.data.chunks_exact(stored).flat_map(|r| r[..len].to_vec()).collect();
        let embedded = pollster::block_on(learner.embed_samples(&inputs)).map_err(|e| e.to_string())?;
        let k = learner.classes().len();
        let dim = learner.concepts().dim();
        let mut taught = vec![false; learner.concepts().len()];
        learner.classes().iter().filter_map(|c| c.concept).for_each(|i| taught[i] = true);
        let embedded = Samples { data: embedded, ..memory.clone() };
        Ok(Self {
            input: NearestExamples::calibrate(&memory, stored, len, k, config.accept_rate),
            embedding: NearestExamples::calibrate(&embedded, dim, dim, k, config.accept_rate),
            vocabulary,
            taught,
        })
    }

    fn scores(&self, learner: &mut Learner, samples: &[f32]) -> Result<Scored, String> {
        let len = learner.config().student.sample_len();
        let predictions = pollster::block_on(learner.predict_samples(samples)).map_err(|e| e.to_string())?;
        let z = pollster::block_on(learner.embed_samples(samples)).map_err(|e| e.to_string())?;
        let dim = self.embedding.dim();
        let mut out = Scored { values: Vec::new(), accepted: Vec::new(), top: Vec::new() };
        for (chunk, (zs, xs)) in predictions.chunks(256).zip(z.chunks(256 * dim).zip(samples.chunks(256 * len))) {
            let similarities =
                Tensor::<2>::from_data(TensorData::new(zs.to_vec(), [chunk.len(), dim]), &self.vocabulary.device())
                    .matmul(self.vocabulary.clone().transpose());
            let similarities =
                similarities.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
            for (j, p) in chunk.iter().enumerate() {
                let top = p.top().expect("a class is taught");
                let untaught = similarities[j * self.taught.len()..][..self.taught.len()]
                    .iter()
                    .zip(&self.taught)
                    .filter(|(_, t)| !**t)
                    .map(|(s, _)| *s)
                    .fold(f32::MIN, f32::max);
                let nearest = |n: &NearestExamples, q: &[f32]| n.score(q, top).map_or(f64::NAN, f64::from);
                out.values.push([
                    p.similarities[top] as f64,
                    p.probabilities[top] as f64,
                    (p.similarities[top] - untaught) as f64,
                    nearest(&self.input, &xs[j * len..][..len]),
                    nearest(&self.embedding, &zs[j * dim..][..dim]),
                ]);
                out.accepted.push(p.class.is_some());
                out.top.push(top);
            }
        }
        Ok(out)
    }
}

/// Area under the ROC curve of telling `known` (positive) from `unknown` by score: the chance that a known
/// input scores above an unknown one (ties count half).
pub fn auroc(known: &[f64], unknown: &[f64]) -> f64 {
    let mut all: Vec<(f64, bool)> =
        known.iter().map(|&s| (s, true)).chain(unknown.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Rank sum of the known inputs, ties given their mean rank.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let j = (i..all.len()).find(|&j| all[j].0 != all[i].0).unwrap_or(all.len());
        let mean_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += mean_rank * all[i..j].iter().filter(|a| a.1).count() as f64;
        i = j;
    }
    let (p, n) = (known.len() as f64, unknown.len() as f64);
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

/// The share of `unknown` accepted at the threshold that accepts `rate` of `known`.
pub fn false_accepts(known: &[f64], unknown: &[f64], rate: f64) -> f64 {
    let mut sorted = known.to_vec();
    sorted.sort_by(f64::total_cmp);
    let threshold = sorted[((1.0 - rate) * sorted.len() as f64).floor() as usize];
    unknown.iter().filter(|&&s| s >= threshold).count() as f64 / unknown.len().max(1) as f64
}

/// Markdown tables: per scenario, each score's AUROC and false accepts at 95 % true accepts (near / far) after
/// each checkpoint, mean ± std over seeds; then the learner's calibrated decision.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for r in &report.rows {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let stat = |v: Vec<f64>| {
        let (m, s) = mean_std(&v);
        format!("{m:.2}±{s:.2}")
    };
    for scenario in scenarios {
        let rows: Vec<&Row> = report.rows.iter().filter(|r| r.scenario == scenario).collect();
        let seeds = rows.iter().map(|r| r.seed).collect::<std::collections::BTreeSet<_>>().len();
        let taught: Vec<usize> = CHECKPOINTS.iter().copied().filter(|t| rows.iter().any(|r| r.taught == *t)).collect();
        out += &format!(
            "\n**{scenario}: AUROC / false accepts at 95 % true accepts, near | far unknowns ({seeds} seeds)**\n\n| score |"
        );
        out += &taught.iter().map(|t| format!(" {t} taught |")).collect::<String>();
        out += &format!("\n|---|{}\n", "---|".repeat(taught.len()));
        for score in Score::ALL {
            out += &format!("| {} |", score.name());
            for &t in &taught {
                let of: Vec<&&Row> = rows.iter().filter(|r| r.score == score && r.taught == t).collect();
                let near = if of.iter().all(|r| r.auroc_near.is_some()) {
                    format!(
                        "{} / {}",
                        stat(of.iter().filter_map(|r| r.auroc_near).collect()),
                        stat(of.iter().filter_map(|r| r.false_accept_near).collect())
                    )
                } else {
                    "—".into()
                };
                out += &format!(
                    " {near} \\| {} / {} |",
                    stat(of.iter().map(|r| r.auroc_far).collect()),
                    stat(of.iter().map(|r| r.false_accept_far).collect())
                );
            }
            out += "\n";
        }
        let decisions: Vec<&Decision> = report.decisions.iter().filter(|d| d.scenario == scenario).collect();
        out += "\n| the learner's decision | true accepts | false accepts, near | false accepts, far | accuracy (best guess) |\n|---|---|---|---|---|\n";
        for &t in &taught {
            let of: Vec<&&Decision> = decisions.iter().filter(|d| d.taught == t).collect();
            let near = if of.iter().all(|d| d.false_accept_near.is_some()) {
                stat(of.iter().filter_map(|d| d.false_accept_near).collect())
            } else {
                "—".into()
            };
            out += &format!(
                "| {t} taught | {} | {near} | {} | {} |\n",
                stat(of.iter().map(|d| d.true_accept).collect()),
                stat(of.iter().map(|d| d.false_accept_far).collect()),
                stat(of.iter().map(|d| d.accuracy).collect())
            );
        }
        out += &near_classes(report, scenario);
    }
    out
}

/// Each never-taught class of the scenario's own source over every seed and checkpoint at which it was
/// untaught, hardest first: the learner's AUROC against the taught inputs, its false accepts, and the taught
/// class it was most often taken for once two or more were taught.
fn near_classes(report: &Report, scenario: &str) -> String {
    let rows: Vec<&NearClass> = report.near_classes.iter().filter(|r| r.scenario == scenario).collect();
    let mut classes: Vec<&str> = rows.iter().map(|r| r.class.as_str()).collect();
    classes.sort();
    classes.dedup();
    let mean = |v: Vec<f64>| mean_std(&v).0;
    let mut lines: Vec<(f64, String)> = classes
        .into_iter()
        .map(|class| {
            let of: Vec<&&NearClass> = rows.iter().filter(|r| r.class == class).collect();
            // With one class taught, whatever is accepted is taken for it: only later checkpoints say which.
            let mut taken_for: Vec<&str> =
                of.iter().filter(|r| r.taught >= 2).filter_map(|r| r.taken_for.as_deref()).collect();
            taken_for.sort();
            let most = taken_for.chunk_by(|a, b| a == b).max_by_key(|run| run.len()).map_or("—", |run| run[0]);
            let auroc = mean(of.iter().map(|r| r.auroc).collect());
            let line = format!(
                "| {class} | {auroc:.2} | {:.2} | {most} | {} |\n",
                mean(of.iter().map(|r| r.false_accept).collect()),
                of.len()
            );
            (auroc, line)
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = "\n| untaught class (near) | AUROC | false accepts | most often taken for | checkpoints |\n|---|---|---|---|---|\n".to_string();
    lines.into_iter().for_each(|(_, line)| out += &line);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_counts_pairs_and_ties() {
        assert_eq!(auroc(&[2.0, 3.0], &[0.0, 1.0]), 1.0);
        assert_eq!(auroc(&[0.0, 1.0], &[2.0, 3.0]), 0.0);
        assert_eq!(auroc(&[1.0], &[1.0]), 0.5);
        assert!((auroc(&[1.0, 3.0], &[2.0]) - 0.5).abs() < 1e-12);
        assert!((auroc(&[2.0, 3.0, 1.0], &[1.5, 0.0]) - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn untaught_classes_are_listed_hardest_first_with_what_they_are_taken_for() {
        let row = |class: &str, auroc, taken_for: Option<&str>| NearClass {
            scenario: "fashion-mnist".into(),
            seed: 0,
            taught: 2,
            class: class.into(),
            auroc,
            false_accept: 1.0 - auroc,
            taken_for: taken_for.map(Into::into),
        };
        let report = Report {
            near_classes: vec![
                row("trouser", 0.9, None),
                row("shirt", 0.5, Some("T-shirt")),
                row("shirt", 0.7, Some("T-shirt")),
                row("shirt", 0.6, Some("coat")),
                NearClass { taught: 1, ..row("trouser", 0.9, Some("T-shirt")) },
            ],
            ..Report::default()
        };
        let table = near_classes(&report, "fashion-mnist");
        let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| untaught")).collect();
        assert_eq!(lines, ["| shirt | 0.60 | 0.40 | T-shirt | 3 |", "| trouser | 0.90 | 0.10 | — | 2 |"]);
        assert_eq!(near_classes(&report, "mnist"), "");
    }

    #[test]
    fn false_accepts_are_counted_at_the_known_quantile() {
        let known: Vec<f64> = (0..20).map(f64::from).collect();
        // 95 % of 20 known accepted: the threshold is the second smallest (1.0).
        assert_eq!(false_accepts(&known, &[0.5, 1.0, 7.0, -3.0], 0.95), 0.5);
    }
}
