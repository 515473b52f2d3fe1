//! The learner: classes added one after another, examples, training with replay, prediction, snapshots.
//!
//! Examples added since the last [`Learner::train`] form the current experience; training draws each batch
//! from it (shuffled, without replacement) plus an equal share from the replay memory, then offers the
//! experience to the memory and clears it. Each `train` starts fresh optimiser moments and ends by keeping a
//! frozen copy of the trainable part (the previous model the distillation term compares against), so a
//! learner restored from a snapshot continues exactly as one that never stopped. Every example gets an id, by
//! which it can be removed again (from the experience or the memory). Every readback is async and batched, so
//! the same code runs on WebGPU in a page; natively, block on the futures.

use std::collections::HashMap;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::{TensorData, Transaction};
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::SliceRandom};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::concepts::{ConceptSpace, concept_key};
use crate::error::{CvmError, Result};
use crate::image::{ImageView, Preprocessor};
use crate::memory::{ReplayMemory, Samples};
use crate::objective::{Head, HeadKind, Incoming, MASKED, Objective, StepScores, cosines};
use crate::openset::NearestExamples;
use crate::params::{self, to_f32};
use crate::prior::ConceptPrior;
use crate::student::{Student, StudentConfig};
use crate::trunk::Trunk;

/// Everything that shapes a learner; stored in snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    pub student: StudentConfig,
    pub head: HeadKind,
    /// The loss terms and their weights (stored flat, beside the other settings).
    #[serde(flatten)]
    pub objective: Objective,
    pub learning_rate: f64,
    /// Samples per batch from the current experience (and as many again from replay).
    pub batch_size: usize,
    /// Replay memory budget, in samples (0 = no replay: plain fine-tuning).
    pub memory: usize,
    pub seed: u64,
    /// Share of a class's own stored examples that its open-set threshold accepts (see [`crate::openset`]);
    /// an input farther from the class's examples than that is "unknown".
    #[serde(default = "default_accept_rate")]
    pub accept_rate: f32,
    /// Start from the grounded prior of the trunk's ImageNet classifier (see [`crate::prior`]); adapter
    /// students only.
    #[serde(default)]
    pub concept_prior: bool,
}

fn default_accept_rate() -> f32 {
    0.95
}

impl LearnerConfig {
    /// CVM defaults for a student.
    pub fn new(student: StudentConfig) -> Self {
        Self {
            head: HeadKind::Concepts,
            objective: Objective::cvm(),
            learning_rate: 1e-3,
            batch_size: 32,
            memory: 500,
            seed: 0,
            accept_rate: default_accept_rate(),
            concept_prior: student.has_trunk(),
            student,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.student.validate()?;
        let check = |ok: bool, msg: String| if ok { Ok(()) } else { Err(CvmError::arg(msg)) };
        self.objective.validate().map_err(CvmError::arg)?;
        check(
            self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 1.0,
            format!("learning rate must be in (0, 1], got {}", self.learning_rate),
        )?;
        check(
            (1..=1024).contains(&self.batch_size),
            format!("batch size must be in 1..=1024, got {}", self.batch_size),
        )?;
        check(self.memory <= 1_000_000, format!("memory budget must be at most 1000000 samples, got {}", self.memory))?;
        check(
            self.accept_rate > 0.0 && self.accept_rate <= 1.0,
            format!("accept rate must be in (0, 1], got {}", self.accept_rate),
        )?;
        check(
            !self.concept_prior || self.student.has_trunk(),
            "the concept prior needs the pretrained trunk (an adapter student)".into(),
        )
    }

    /// Values the replay memory keeps per sample: the sample, then (with score replay) its scores.
    pub fn stored_len(&self) -> usize {
        self.student.sample_len() + if self.objective.score_replay_weight > 0.0 { SCORE_SLOTS } else { 0 }
    }

    /// Samples the memory budget holds: stored scores take their share of it, so every method keeps the same
    /// number of values.
    pub fn memory_slots(&self) -> usize {
        self.memory * self.student.sample_len() / self.stored_len()
    }
}

/// Scores kept with each replayed sample when score replay is on (DER++): the classes known when it was
/// stored, zero-padded; classes beyond this count are not replayed.
pub const SCORE_SLOTS: usize = 32;

/// A class the learner knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Class {
    /// Normalised name (lookup key).
    pub key: String,
    /// Name as the user typed it, or the vocabulary's display name.
    pub name: String,
    /// Row in the concept space, if the name is in the vocabulary.
    pub concept: Option<usize>,
}

/// Figures from one [`Learner::train`] call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    pub steps: usize,
    /// Loss after each step.
    pub losses: Vec<f32>,
    /// Mean training-batch accuracy over the steps, in `[0, 1]`.
    pub accuracy: f32,
}

/// Scores for one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Best class index, or `None` when the input is none of the taught classes ([`Prediction::top`] is
    /// still the best guess).
    pub class: Option<usize>,
    /// Softmax probability per known class, in class order.
    pub probabilities: Vec<f32>,
    /// Cosine similarity per known class (anchor heads) or the probability again (linear head).
    pub similarities: Vec<f32>,
    /// The best class's open-set score (see [`crate::openset`]): `≥ 0` when the input lies as close to that
    /// class's stored examples as they lie to each other, or (with the grounded prior) when the class's name fits
    /// it better than every concept no class claims; `None` when neither can be judged (it is then taken as known).
    pub open_set_score: Option<f32>,
}

impl Prediction {
    /// Index of the highest-scoring class, unknown or not.
    pub fn top(&self) -> Option<usize> {
        self.probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)
    }
}

/// What one pass over a frame tells (see [`Learner::recognise`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Recognition {
    /// Scores among the known classes; `None` before the first class.
    pub prediction: Option<Prediction>,
    /// The vocabulary concepts nearest to the frame, `(concept index, cosine)`, best first.
    pub looks_like: Vec<(usize, f32)>,
}

/// Continual visual mapping learner.
pub struct Learner {
    pub(crate) config: LearnerConfig,
    pub(crate) concepts: Arc<ConceptSpace>,
    pub(crate) device: Device,
    /// The student and its head: the trainable part, stepped whole.
    pub(crate) network: Network,
    /// Frozen pretrained trunk of the adapter student.
    pub(crate) trunk: Option<Trunk>,
    /// The grounded prior the student's output is added to (see [`crate::prior`]).
    prior: Option<ConceptPrior>,
    /// The prior's concept vector of every example the learner holds, by id, computed once per example (the
    /// trunk is frozen), so training steps never run the ImageNet classifier; derived, never stored.
    prior_of_example: HashMap<u32, Vec<f32>>,
    optimizer: ModuleOptimizer,
    pub(crate) classes: Vec<Class>,
    pub(crate) memory: ReplayMemory,
    /// Frozen copy of the trainable part as the last `train` left it, and how many classes it knew.
    pub(crate) previous: Option<(Network, usize)>,
    /// The stored examples the open-set score compares against, calibrated; `None` when stale (rebuilt at the
    /// next prediction).
    open_set: Option<NearestExamples>,
    /// Samples of the current experience, not yet in replay memory.
    pub(crate) pending: Samples,
    /// Random decisions taken by training (position in the RNG stream; part of the state).
    pub(crate) train_events: u64,
    /// Id of the next example added (part of the state).
    pub(crate) next_example: u32,
    preprocessor: Preprocessor,
    /// Reused buffer of preprocessed images.
    scratch: Vec<f32>,
}

impl std::fmt::Debug for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learner")
            .field("config", &self.config)
            .field("classes", &self.classes)
            .field("memory", &self.memory.len())
            .field("pending", &self.pending.labels.len())
            .finish_non_exhaustive()
    }
}

/// The trainable part: the student and the head that scores its concept vectors against the classes.
#[derive(Module, Debug)]
pub(crate) struct Network {
    pub student: Student,
    pub head: Head,
}

/// What a learner holds besides its config and parameters: nothing when fresh; when restored, what its snapshot
/// held.
pub(crate) struct Held {
    pub classes: Vec<Class>,
    pub memory: ReplayMemory,
    pub pending: Samples,
    /// The frozen copy of the network the distillation compares against, and how many classes it knew.
    pub previous: Option<(Network, usize)>,
    pub train_events: u64,
    pub next_example: u32,
}

impl Held {
    fn none(config: &LearnerConfig) -> Self {
        Self {
            classes: Vec::new(),
            memory: ReplayMemory::new(config.memory_slots(), config.stored_len(), config.seed),
            pending: Samples::default(),
            previous: None,
            train_events: 0,
            next_example: 0,
        }
    }
}

/// Raw concept-space vectors `[B, d]` of student inputs: the student's output, plus the prior's concept vectors
/// of the same inputs (with the grounded prior).
fn concept_vectors(student: &Student, prior: Option<Tensor<2>>, x: Tensor<2>) -> Tensor<2> {
    match prior {
        Some(prior) => student.forward(x) + prior,
        None => student.forward(x),
    }
}

impl Network {
    /// Scores `[B, classes]` of samples `x` (see [`Head::scores`]).
    fn scores(&self, x: Tensor<2>, prior: Option<Tensor<2>>, classes: usize) -> Tensor<2> {
        self.head.scores(concept_vectors(&self.student, prior, x), classes)
    }
}

impl Learner {
    /// A fresh learner with a student trained from scratch. `device` should have autodiff enabled
    /// (`device.autodiff()`).
    pub fn new(config: LearnerConfig, concepts: Arc<ConceptSpace>, device: Device) -> Result<Self> {
        Self::create(config, concepts, None, device)
    }

    /// A fresh learner whose adapter student sits on `trunk`; `config.student` must be an adapter with the
    /// trunk's input (see [`StudentConfig::adapter`]).
    pub fn with_trunk(
        config: LearnerConfig,
        concepts: Arc<ConceptSpace>,
        trunk: Trunk,
        device: Device,
    ) -> Result<Self> {
        Self::create(config, concepts, Some(trunk), device)
    }

    fn create(
        config: LearnerConfig,
        concepts: Arc<ConceptSpace>,
        trunk: Option<Trunk>,
        device: Device,
    ) -> Result<Self> {
        config.validate()?;
        let mut student = params::seeded_init(Student::new(&config.student, concepts.dim(), &device), config.seed);
        if config.concept_prior {
            // The learner starts exactly at the prior; training learns the corrections.
            let weight = student.projection.weight.val().zeros_like();
            student.projection.weight = burn::module::Param::from_tensor(weight);
            student.projection.bias =
                student.projection.bias.map(|b| burn::module::Param::from_tensor(b.val().zeros_like()));
        }
        let network = Network { head: Head::new(config.head, concepts.dim(), &device), student };
        let held = Held::none(&config);
        Self::assemble(config, concepts, trunk, device, network, held)
    }

    /// A learner from its parts: a fresh one holds nothing yet, a restored one what its snapshot held.
    pub(crate) fn assemble(
        config: LearnerConfig,
        concepts: Arc<ConceptSpace>,
        trunk: Option<Trunk>,
        device: Device,
        network: Network,
        held: Held,
    ) -> Result<Self> {
        match (&trunk, config.student.has_trunk()) {
            (None, true) => return Err(CvmError::arg("this student needs a pretrained trunk: load a trunk blob")),
            (Some(_), false) => return Err(CvmError::arg("a trunk was given, but the student trains from scratch")),
            (Some(t), true) if t.input() != *config.student.input() => {
                return Err(CvmError::arg(format!(
                    "the trunk takes {:?}, the student config says {:?}",
                    t.input(),
                    config.student.input()
                )));
            }
            _ => {}
        }
        let preprocessor = Preprocessor::new(*config.student.input())?;
        let prior = match (&trunk, config.concept_prior) {
            (Some(trunk), true) => Some(ConceptPrior::new(trunk, &concepts)?),
            _ => None,
        };
        let Held { classes, memory, pending, previous, train_events, next_example } = held;
        let mut learner = Self {
            prior,
            memory,
            previous,
            open_set: None,
            prior_of_example: HashMap::new(),
            optimizer: AdamConfig::new().init(),
            scratch: Vec::new(),
            preprocessor,
            network,
            trunk,
            classes,
            pending,
            train_events,
            next_example,
            config,
            concepts,
            device,
        };
        learner.refresh_head();
        Ok(learner)
    }

    pub fn config(&self) -> &LearnerConfig {
        &self.config
    }

    pub fn concepts(&self) -> &Arc<ConceptSpace> {
        &self.concepts
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Changes the open-set accept rate (see [`LearnerConfig::accept_rate`]).
    pub fn set_accept_rate(&mut self, accept_rate: f32) -> Result<()> {
        self.reconfigure(LearnerConfig { accept_rate, ..self.config.clone() })
    }

    /// Changes the settings a learner can change between trainings (a restored one too): learning rate, batch
    /// size, memory budget (a smaller one lets go of examples of the largest classes), seed, accept rate and the
    /// loss weights. The student, the head, the prior and what a memory row holds are fixed by the learner's
    /// parameters and stored samples: a config that changes them is refused and nothing changes.
    pub fn reconfigure(&mut self, config: LearnerConfig) -> Result<()> {
        config.validate()?;
        let old = &self.config;
        let fixed = [
            (config.student != old.student, "the student (its kind and input size)"),
            (config.head != old.head, "the head"),
            (config.concept_prior != old.concept_prior, "whether the concept prior is used"),
            (config.stored_len() != old.stored_len(), "whether scores are replayed"),
        ];
        if let Some((_, what)) = fixed.iter().find(|(changed, _)| *changed) {
            return Err(CvmError::arg(format!("{what} cannot change for an existing learner: create a new one")));
        }
        self.memory.set_budget(config.memory_slots());
        self.config = config;
        self.open_set = None;
        Ok(())
    }

    pub fn classes(&self) -> &[Class] {
        &self.classes
    }

    pub fn memory(&self) -> &ReplayMemory {
        &self.memory
    }

    /// Examples waiting for the next [`Learner::train`], per class.
    pub fn pending_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        self.pending.labels.iter().for_each(|&l| counts[l as usize] += 1);
        counts
    }

    /// Index of a class by name (case and spacing ignored).
    pub fn class_index(&self, name: &str) -> Result<usize> {
        let key = concept_key(name);
        self.classes.iter().position(|c| c.key == key).ok_or_else(|| CvmError::UnknownClass(name.to_string()))
    }

    /// Adds a class. With the concept head its name must be in the vocabulary (the error suggests names).
    pub fn add_class(&mut self, name: &str) -> Result<usize> {
        crate::concepts::check_name_length(name)?;
        let key = concept_key(name);
        if key.is_empty() {
            return Err(CvmError::arg("class name is empty"));
        }
        if self.classes.iter().any(|c| c.key == key) {
            return Err(CvmError::DuplicateClass(name.trim().to_string()));
        }
        let concept = match self.config.head {
            HeadKind::Concepts => Some(self.concepts.lookup(name)?),
            _ => self.concepts.lookup(name).ok(),
        };
        let name = concept.map_or_else(|| name.trim().to_string(), |i| self.concepts.name(i).to_string());
        let key = concept.map_or(key, |i| self.concepts.key(i).to_string());
        if self.classes.iter().any(|c| c.key == key) {
            return Err(CvmError::DuplicateClass(name));
        }
        self.classes.push(Class { key, name, concept });
        self.refresh_head();
        Ok(self.classes.len() - 1)
    }

    /// Removes a class with its examples (in memory and pending); later classes shift down by one.
    pub fn remove_class(&mut self, index: usize) -> Result<()> {
        if index >= self.classes.len() {
            return Err(CvmError::arg(format!("class index {index} out of range (have {})", self.classes.len())));
        }
        self.classes.remove(index);
        self.open_set = None;
        // The previous model's scores are indexed by the old class order; distillation restarts after the next
        // training.
        self.previous = None;
        let label = index as u32;
        self.memory.remove_class(label);
        self.pending.remove_class(self.config.student.sample_len(), label);
        if let Head::Linear(head) = &mut self.network.head {
            *head = head.clone().without(index);
        }
        self.refresh_head();
        Ok(())
    }

    /// Fits the head to the current classes: the anchor matrix rebuilt, or the linear head grown.
    fn refresh_head(&mut self) {
        let head = &mut self.network.head;
        match head {
            Head::Anchors(_) => *head = anchor_head(&self.config, &self.concepts, &self.classes, &self.device),
            Head::Linear(linear) => *linear = linear.clone().grown(self.classes.len()),
        }
    }

    /// Unit anchor of a class (see [`anchor`]).
    pub fn anchor_of(&self, class: &Class) -> Vec<f32> {
        anchor(&self.config, &self.concepts, class)
    }

    /// Stores examples of class `class` for the next training round: preprocessed pixels, or (with a trunk)
    /// the trunk's features, computed once here and read back in one batch. Returns the examples' ids.
    pub async fn add_examples(&mut self, class: usize, images: &[ImageView<'_>]) -> Result<Vec<u32>> {
        if class >= self.classes.len() {
            return Err(CvmError::arg(format!("class index {class} out of range (have {})", self.classes.len())));
        }
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let samples = self.encode(images).await?;
        let ids = self.add_samples(class, &samples);
        if self.trunk.is_none() {
            self.scratch = samples;
        }
        ids
    }

    /// What the learner stores for each image (see [`Learner::add_examples`]): `[B × sample_len]`, row-major.
    /// Samples computed once can be added ([`Learner::add_samples`]) and scored ([`Learner::predict_samples`])
    /// again and again without repeating the trunk's work.
    pub async fn encode(&mut self, images: &[ImageView<'_>]) -> Result<Vec<f32>> {
        if self.trunk.is_some() {
            to_f32(self.samples(images)?.into_data_async().await?)
        } else {
            self.preprocess(images)?;
            Ok(std::mem::take(&mut self.scratch))
        }
    }

    /// Stores samples from [`Learner::encode`] as examples of `class`; returns their ids.
    pub fn add_samples(&mut self, class: usize, samples: &[f32]) -> Result<Vec<u32>> {
        if class >= self.classes.len() {
            return Err(CvmError::arg(format!("class index {class} out of range (have {})", self.classes.len())));
        }
        let len = self.config.student.sample_len();
        if !samples.len().is_multiple_of(len) {
            return Err(CvmError::arg(format!("samples must be a multiple of {len} values, got {}", samples.len())));
        }
        if !samples.iter().all(|v| v.is_finite()) {
            return Err(CvmError::InvalidImage("the image gives non-finite values".into()));
        }
        let n = samples.len() / len;
        let first = self.next_example;
        let next = u32::try_from(n)
            .ok()
            .and_then(|n| first.checked_add(n))
            .ok_or_else(|| CvmError::arg("this learner has used up its example ids: export it and start a new one"))?;
        self.pending.data.extend_from_slice(samples);
        self.pending.labels.extend(std::iter::repeat_n(class as u32, n));
        self.pending.ids.extend(first..next);
        self.next_example = next;
        Ok((first..next).collect())
    }

    /// [`Learner::add_examples`] for one image; returns its id.
    pub async fn add_example(&mut self, class: usize, image: ImageView<'_>) -> Result<u32> {
        Ok(self.add_examples(class, &[image]).await?[0])
    }

    /// Ids of the examples of `class` the learner still holds (not yet trained on, then in replay memory).
    pub fn example_ids(&self, class: usize) -> Vec<u32> {
        let class = class as u32;
        [&self.pending, self.memory.samples()]
            .into_iter()
            .flat_map(|s| s.labels.iter().zip(&s.ids))
            .filter(|(l, _)| **l == class)
            .map(|(_, &id)| id)
            .collect()
    }

    /// Removes example `id` from the learner's data, so it is never trained on or replayed again; returns
    /// whether the learner still held it (the replay memory may already have let it go). What earlier
    /// training learnt from it stays in the weights until later training moves them.
    pub fn remove_example(&mut self, id: u32) -> bool {
        let removed = self.pending.remove(self.config.student.sample_len(), id) || self.memory.remove(id);
        self.open_set = None;
        removed
    }

    fn rng(&mut self) -> StdRng {
        self.train_events += 1;
        StdRng::seed_from_u64(self.config.seed.rotate_left(17) ^ self.train_events.wrapping_mul(0xA24B_AED4_963E_E407))
    }

    /// Runs `steps` optimiser steps, then moves the current experience into replay memory.
    pub async fn train(&mut self, steps: usize) -> Result<TrainReport> {
        self.train_with_progress(steps, steps.max(1), |_| std::future::ready(true)).await
    }

    /// [`Learner::train`], reading the losses back every `report_every` steps (one batched readback) and
    /// awaiting `on_progress` with the figures so far; it resolves to `false` to stop early. A front end that
    /// trains on the browser's thread yields to its event loop there, so a Stop can arrive. Whether stopped or
    /// not, the current experience then moves into replay memory, and the network as it stands becomes the
    /// previous model of the next experience.
    pub async fn train_with_progress<F: std::future::Future<Output = bool>>(
        &mut self,
        steps: usize,
        report_every: usize,
        mut on_progress: impl FnMut(&TrainReport) -> F,
    ) -> Result<TrainReport> {
        if self.classes.is_empty() {
            return Err(CvmError::NotReady("add a class and some examples before training".into()));
        }
        if self.pending.labels.is_empty() && self.memory.is_empty() {
            return Err(CvmError::NotReady("no examples to train on: add examples first".into()));
        }
        if steps > 100_000 || report_every == 0 {
            return Err(CvmError::arg(format!(
                "steps must be at most 100000 and report_every at least 1, got {steps} and {report_every}"
            )));
        }
        // Every experience starts with fresh moments: nothing of the optimiser outlives a `train` call, so a
        // snapshot between two calls holds the whole training state.
        self.optimizer = AdamConfig::new().init();
        self.cache_prior().await?;
        let plan = BatchPlan::new(self);
        let mut order: Vec<usize> = (0..self.pending.labels.len()).collect();
        let mut cursor = order.len();
        let mut report = TrainReport { steps: 0, losses: Vec::with_capacity(steps), accuracy: 0.0 };
        let (mut hits_total, mut seen) = (0.0f32, 0usize);
        let mut batch = Batch::default();
        while report.steps < steps {
            let chunk = report_every.min(steps - report.steps);
            let mut losses = Vec::with_capacity(chunk);
            let mut hits = Vec::with_capacity(chunk);
            for _ in 0..chunk {
                batch.clear();
                let mut rng = self.rng();
                let len = self.config.student.sample_len();
                let current = if order.is_empty() { 0 } else { self.config.batch_size.min(order.len()) };
                for _ in 0..current {
                    if cursor == order.len() {
                        order.shuffle(&mut rng);
                        cursor = 0;
                    }
                    let i = order[cursor];
                    batch.push(
                        &self.pending.data[i * len..][..len],
                        self.pending.labels[i],
                        self.prior_of_example.get(&self.pending.ids[i]),
                    );
                    cursor += 1;
                }
                batch.incoming = current;
                let replay = if current == 0 { 2 * self.config.batch_size } else { self.config.batch_size };
                for i in self.memory.draw(replay - plan.current_share(replay, current)) {
                    let (row, label) = self.memory.get(i);
                    batch.push(&row[..len], label, self.prior_of_example.get(&self.memory.samples().ids[i]));
                    batch.stored.extend_from_slice(&row[len..]);
                }
                batch.stored_rows = batch.labels.len() - current;
                for _ in 0..plan.current_share(replay, current) {
                    let i = rng.random_range(0..self.pending.labels.len());
                    batch.push(
                        &self.pending.data[i * len..][..len],
                        self.pending.labels[i],
                        self.prior_of_example.get(&self.pending.ids[i]),
                    );
                }
                let (loss, hit) = self.step(&batch, &plan);
                seen += batch.labels.len();
                losses.push(loss);
                hits.push(hit);
            }
            let data = Transaction::default()
                .register(Tensor::cat(losses, 0))
                .register(Tensor::cat(hits, 0).sum())
                .execute_async()
                .await?;
            report.losses.extend(to_f32(data[0].clone())?);
            hits_total += to_f32(data[1].clone())?[0];
            report.steps += chunk;
            report.accuracy = hits_total / seen.max(1) as f32;
            if !on_progress(&report).await {
                break;
            }
        }
        self.end_experience().await?;
        Ok(report)
    }

    /// Computes the prior's concept vector of every example held (current experience and replay memory) that
    /// has none yet, in batches, and forgets those of examples no longer held.
    async fn cache_prior(&mut self) -> Result<()> {
        let Some(prior) = &self.prior else { return Ok(()) };
        let len = self.config.student.sample_len();
        let held: Vec<(u32, &[f32])> = self
            .pending
            .ids
            .iter()
            .zip(self.pending.data.chunks_exact(len))
            .chain(self.memory.samples().ids.iter().zip((0..self.memory.len()).map(|i| self.memory.get(i).0)))
            .map(|(&id, row)| (id, row))
            .collect();
        let ids: std::collections::HashSet<u32> = held.iter().map(|(id, _)| *id).collect();
        self.prior_of_example.retain(|id, _| ids.contains(id));
        let missing: Vec<&(u32, &[f32])> =
            held.iter().filter(|(id, _)| !self.prior_of_example.contains_key(id)).collect();
        let d = self.concepts.dim();
        let mut computed = Vec::with_capacity(missing.len());
        for chunk in missing.chunks(256) {
            let data: Vec<f32> = chunk.iter().flat_map(|(_, row)| row.iter().copied()).collect();
            let x = Tensor::<2>::from_data(TensorData::new(data, [chunk.len(), len]), &self.device.clone().inner());
            let z = to_f32(prior.embed(x).into_data_async().await?)?;
            computed.extend(chunk.iter().zip(z.chunks_exact(d)).map(|((id, _), z)| (*id, z.to_vec())));
        }
        self.prior_of_example.extend(computed);
        Ok(())
    }

    /// Moves the current experience into replay memory (with its scores, when they are replayed) and keeps the
    /// network as the previous model.
    async fn end_experience(&mut self) -> Result<()> {
        let len = self.config.student.sample_len();
        let pending = std::mem::take(&mut self.pending);
        let network = self.network.clone();
        let stored_scores = if self.config.stored_len() > len && !pending.is_empty() {
            let k = self.classes.len().min(SCORE_SLOTS);
            let x = Tensor::<2>::from_data(TensorData::new(pending.data.clone(), [pending.len(), len]), &self.device);
            let prior = self.prior.as_ref().map(|p| p.embed(x.clone()));
            to_f32(network.scores(x, prior, k).into_data_async().await?)?
                .chunks_exact(k)
                .map(|row| {
                    let mut slots = row.to_vec();
                    slots.resize(SCORE_SLOTS, 0.0);
                    slots
                })
                .collect()
        } else {
            vec![Vec::new(); pending.len()]
        };
        let mut row = Vec::with_capacity(self.config.stored_len());
        for (((sample, &label), &id), scores) in
            pending.data.chunks_exact(len).zip(&pending.labels).zip(&pending.ids).zip(&stored_scores)
        {
            row.clear();
            row.extend_from_slice(sample);
            row.extend_from_slice(scores);
            self.memory.insert(&row, label, id)?;
        }
        if self.config.objective.distill_weight > 0.0 {
            self.previous = Some((network.no_grad(), self.classes.len()));
        }
        self.open_set = None;
        Ok(())
    }

    /// One optimiser step; returns the detached loss `[1]` and the number of correct predictions `[1]`.
    fn step(&mut self, batch: &Batch, plan: &BatchPlan) -> (Tensor<1>, Tensor<1, Int>) {
        let b = batch.labels.len();
        let k = self.classes.len();
        let x = Tensor::<2>::from_data(
            TensorData::new(batch.data.clone(), [b, self.config.student.sample_len()]),
            &self.device,
        );
        let y = Tensor::<1, Int>::from_data(TensorData::new(batch.labels.clone(), [b]), &self.device);
        let network = self.network.clone();
        let prior = self.prior.is_some().then(|| {
            Tensor::<2>::from_data(
                TensorData::new(batch.prior.clone(), [b, self.concepts.dim()]),
                &self.device.clone().inner(),
            )
        });
        let previous = match &self.previous {
            Some((previous, known)) if *known > 0 && self.config.objective.distill_weight > 0.0 => {
                Some(previous.scores(x.clone(), prior.clone(), (*known).min(k)).detach())
            }
            _ => None,
        };
        let stored = (batch.stored_rows > 0 && !batch.stored.is_empty()).then(|| {
            (
                batch.incoming,
                Tensor::<2>::from_data(
                    TensorData::new(batch.stored.clone(), [batch.stored_rows, SCORE_SLOTS]),
                    &self.device,
                ),
            )
        });
        let mask = plan.mask(batch, k).map(|m| Tensor::<2>::from_data(TensorData::new(m, [b, k]), &self.device));
        let step = StepScores {
            cosines: network.head.scores_cosines(),
            scores: network.scores(x, prior, k),
            targets: y.clone(),
            mask,
            previous,
            stored,
        };
        let (loss, logits) = self.config.objective.loss(step);
        let hits = logits.argmax(1).squeeze_dim::<1>(1).equal(y).int().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &network);
        self.network = self.optimizer.step(self.config.learning_rate, network, grads);
        (loss.detach(), hits)
    }

    /// Preprocesses images into the reused scratch buffer.
    fn preprocess(&mut self, images: &[ImageView<'_>]) -> Result<()> {
        let len = self.config.student.input().values();
        self.scratch.resize(images.len() * len, 0.0);
        for (image, out) in images.iter().zip(self.scratch.chunks_exact_mut(len)) {
            self.preprocessor.run(*image, out)?;
        }
        Ok(())
    }

    /// Preprocesses images and returns the student's input samples `[B, len]`
    /// on the inference device: the pixels, or the trunk's features.
    fn samples(&mut self, images: &[ImageView<'_>]) -> Result<Tensor<2>> {
        self.preprocess(images)?;
        Ok(match &self.trunk {
            Some(trunk) => trunk.features(&self.scratch, images.len()),
            None => {
                let data = TensorData::new(self.scratch.clone(), [images.len(), self.config.student.input().values()]);
                Tensor::from_data(data, &self.device.clone().inner())
            }
        })
    }

    /// Scores images against the known classes.
    pub async fn predict_batch(&mut self, images: &[ImageView<'_>]) -> Result<Vec<Prediction>> {
        self.ready_to_predict()?;
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.samples(images)?;
        Ok(self.read(x, 0).await?.into_iter().filter_map(|r| r.prediction).collect())
    }

    /// Scores samples from [`Learner::encode`] against the known classes (no trunk pass).
    pub async fn predict_samples(&mut self, samples: &[f32]) -> Result<Vec<Prediction>> {
        self.ready_to_predict()?;
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.sample_tensor(samples)?;
        Ok(self.read(x, 0).await?.into_iter().filter_map(|r| r.prediction).collect())
    }

    /// Per class, the share of `samples` (from [`Learner::encode`]) labelled with it whose best guess is that
    /// class (unknown or not: what the class's held-out frames would be called among the classes); `None` for a
    /// class without samples. One batched pass.
    pub async fn class_accuracy(&mut self, samples: &[f32], labels: &[usize]) -> Result<Vec<Option<f32>>> {
        if let Some(&bad) = labels.iter().find(|&&l| l >= self.classes.len()) {
            return Err(CvmError::arg(format!("class index {bad} out of range (have {})", self.classes.len())));
        }
        let predictions = self.predict_samples(samples).await?;
        if predictions.len() != labels.len() {
            return Err(CvmError::arg(format!("{} samples but {} labels", predictions.len(), labels.len())));
        }
        let mut counts = vec![(0usize, 0usize); self.classes.len()];
        for (p, &l) in predictions.iter().zip(labels) {
            counts[l].0 += usize::from(p.top() == Some(l));
            counts[l].1 += 1;
        }
        Ok(counts.into_iter().map(|(hit, n)| (n > 0).then(|| hit as f32 / n as f32)).collect())
    }

    fn ready_to_predict(&self) -> Result<()> {
        match self.classes.is_empty() {
            true => Err(CvmError::NotReady("no classes yet: add a class first".into())),
            false => Ok(()),
        }
    }

    /// Everything the page shows about a live frame, from one pass: the prediction among the classes (`None`
    /// before the first class) and the `k` vocabulary concepts nearest to it (see [`Learner::rank_vocabulary`]).
    pub async fn recognise(&mut self, image: ImageView<'_>, k: usize) -> Result<Recognition> {
        let x = self.samples(&[image])?;
        Ok(self.read(x, k).await?.remove(0))
    }

    /// The one pass behind predictions and rankings of student inputs `x [B, sample_len]` (on the inference
    /// device): probabilities, similarities and open-set scores when there are classes, and the `k` nearest
    /// vocabulary concepts when `k > 0`, read back in one transaction. The open-set references are the replay
    /// memory's examples, calibrated again when they changed.
    async fn read(&mut self, x: Tensor<2>, k: usize) -> Result<Vec<Recognition>> {
        if k > 0 && self.config.head != HeadKind::Concepts {
            return Err(CvmError::NotReady("ranking the vocabulary needs the concept head".into()));
        }
        let (rows, len, classes, d) =
            (x.dims()[0], self.config.student.sample_len(), self.classes.len(), self.concepts.dim());
        if classes > 0 && self.open_set.is_none() {
            self.open_set = Some(NearestExamples::calibrate(
                self.memory.samples(),
                self.config.stored_len(),
                len,
                classes,
                self.config.accept_rate,
            ));
        }
        // The prior's own view: classes known only by name, and frames none of the taught classes, are judged by it.
        let by_prior = self.prior.as_ref().map(|prior| prior.embed(x.clone()));
        let z = concept_vectors(&self.network.student.valid(), by_prior.clone(), x.clone());
        let mut transaction = Transaction::default();
        if classes > 0 {
            transaction = transaction.register(x);
        }
        if let Some(by_prior) = &by_prior {
            transaction = transaction.register(by_prior.clone());
        }
        if k > 0 {
            transaction = transaction.register(z.clone());
        }
        if classes > 0 {
            let (probabilities, similarities) = self.class_scores(z, by_prior.clone());
            transaction = transaction.register(probabilities).register(similarities);
        }
        let mut data = transaction.execute_async().await?.into_iter().map(to_f32);
        let mut next = || data.next().expect("one readback per registered tensor");
        let x = if classes > 0 { next()? } else { Vec::new() };
        let by_prior = if by_prior.is_some() { next()? } else { Vec::new() };
        let z = if k > 0 { next()? } else { Vec::new() };
        let (p, s) = if classes > 0 { (next()?, next()?) } else { (Vec::new(), Vec::new()) };
        (0..rows)
            .map(|row| {
                let prior_row = by_prior.get(row * d..(row + 1) * d);
                let prediction = (classes > 0).then(|| {
                    self.prediction(
                        &p[row * classes..][..classes],
                        &s[row * classes..][..classes],
                        &x[row * len..][..len],
                        prior_row,
                    )
                });
                // A frame none of the taught classes is ranked by the prior alone, so what the trunk knows about
                // things never taught survives the corrections learnt for the taught ones.
                let known = match (&prediction, prior_row) {
                    (_, None) => true,
                    (Some(p), Some(_)) => p.class.is_some(),
                    (None, Some(_)) => false,
                };
                let looks_like = match (k, known) {
                    (0, _) => Vec::new(),
                    (_, true) => self.concepts.nearest(&z[row * d..][..d], k)?,
                    (_, false) => self.concepts.nearest(prior_row.expect("the prior's row"), k)?,
                };
                Ok(Recognition { prediction, looks_like })
            })
            .collect()
    }

    /// Softmax probabilities and similarities `[B, classes]` of concept vectors `z`. With the grounded prior, a
    /// class known only by its name is judged by the prior's vectors: the adapter has learnt nothing about it,
    /// and its corrections for the taught classes would only mislead.
    fn class_scores(&self, z: Tensor<2>, by_prior: Option<Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let classes = self.classes.len();
        match self.network.head.valid() {
            Head::Linear(head) => {
                let p = softmax(head.forward(z, classes), 1);
                (p.clone(), p)
            }
            Head::Anchors(anchors) => {
                let mut cos = cosines(z, anchors.clone());
                let taught = self.taught();
                if let (Some(by_prior), true) = (by_prior, taught.contains(&false)) {
                    let mask = Tensor::<1>::from_data(
                        TensorData::new(taught.iter().map(|&t| f32::from(u8::from(t))).collect(), [classes]),
                        &cos.device(),
                    )
                    .unsqueeze_dim::<2>(0);
                    cos = cos * mask.clone() + cosines(by_prior, anchors) * (mask.neg() + 1.0);
                }
                (softmax(cos.clone().mul_scalar(self.config.objective.scale), 1), cos)
            }
        }
    }

    /// One row's prediction: its probabilities `p`, similarities `s`, student input `x` and (with the grounded
    /// prior) the prior's concept vector.
    fn prediction(&self, p: &[f32], s: &[f32], x: &[f32], by_prior: Option<&[f32]>) -> Prediction {
        let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).expect("classes ≥ 1");
        // Known by its examples, or by its name through the prior.
        let by_name = by_prior.and_then(|z| self.zero_shot_margin(z, best));
        let by_examples = self.open_set.as_ref().expect("calibrated before reading").score(x, best);
        let open_set_score = match (by_examples, by_name) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let known = open_set_score.is_none_or(|score| score >= 0.0);
        Prediction { class: known.then_some(best), probabilities: p.to_vec(), similarities: s.to_vec(), open_set_score }
    }

    /// Per class: whether the learner holds examples of it (in the current experience or the replay memory).
    fn taught(&self) -> Vec<bool> {
        let mut taught = vec![false; self.classes.len()];
        self.pending.labels.iter().chain(&self.memory.samples().labels).for_each(|&l| taught[l as usize] = true);
        taught
    }

    /// The open-set score of a class by its name, when the learner has the grounded prior: how far the cosine
    /// of the class's concept to the prior's vector `z` exceeds that of every vocabulary concept no class is
    /// named after (`≥ 0`: of all the concepts no class claims, none fits the input better than the class's name).
    fn zero_shot_margin(&self, z: &[f32], class: usize) -> Option<f32> {
        let concept = self.classes[class].concept.filter(|_| self.config.head == HeadKind::Concepts)?;
        let claimed: Vec<usize> = self.classes.iter().filter_map(|c| c.concept).collect();
        let nearest = self.concepts.nearest(z, claimed.len() + 1).ok()?;
        let (_, untaught) = nearest.into_iter().find(|(i, _)| !claimed.contains(i))?;
        let own = crate::vector::dot(self.concepts.embedding(concept), z) / crate::vector::norm(z).max(1e-12);
        Some(own - untaught)
    }

    pub async fn predict(&mut self, image: ImageView<'_>) -> Result<Prediction> {
        Ok(self.predict_batch(&[image]).await?.remove(0))
    }

    /// Unit concept-space vectors `z` of images, `[B × d]` row-major.
    pub async fn embed_batch(&mut self, images: &[ImageView<'_>]) -> Result<Vec<f32>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.samples(images)?;
        self.embed(x).await
    }

    /// [`Learner::embed_batch`] of samples from [`Learner::encode`] (no trunk pass).
    pub async fn embed_samples(&mut self, samples: &[f32]) -> Result<Vec<f32>> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.sample_tensor(samples)?;
        self.embed(x).await
    }

    async fn embed(&self, x: Tensor<2>) -> Result<Vec<f32>> {
        let prior = self.prior.as_ref().map(|p| p.embed(x.clone()));
        let z = crate::objective::normalize_rows(concept_vectors(&self.network.student.valid(), prior, x));
        to_f32(z.into_data_async().await?)
    }

    /// Validated samples `[B × sample_len]` as a tensor on the inference device.
    fn sample_tensor(&self, samples: &[f32]) -> Result<Tensor<2>> {
        let len = self.config.student.sample_len();
        if !samples.len().is_multiple_of(len) || !samples.iter().all(|v| v.is_finite()) {
            return Err(CvmError::arg(format!(
                "samples must be finite and a multiple of {len} values, got {}",
                samples.len()
            )));
        }
        Ok(Tensor::<2>::from_data(
            TensorData::new(samples.to_vec(), [samples.len() / len, len]),
            &self.device.clone().inner(),
        ))
    }

    /// The `k` vocabulary concepts nearest to the image's embedding: `(concept index, cosine)`, best first.
    /// With the grounded prior, an image that is none of the taught classes is ranked by the prior alone.
    pub async fn rank_vocabulary(&mut self, image: ImageView<'_>, k: usize) -> Result<Vec<(usize, f32)>> {
        Ok(self.recognise(image, k).await?.looks_like)
    }

    /// [`Learner::rank_vocabulary`] of samples from [`Learner::encode`], one ranking per sample.
    pub async fn rank_samples(&mut self, samples: &[f32], k: usize) -> Result<Vec<Vec<(usize, f32)>>> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.sample_tensor(samples)?;
        Ok(self.read(x, k).await?.into_iter().map(|r| r.looks_like).collect())
    }
}

/// One training batch, its buffers reused from step to step: the incoming rows first, then the rows replayed
/// from memory (with their stored scores), then, for the asymmetric loss, current rows drawn as replay.
#[derive(Default)]
struct Batch {
    data: Vec<f32>,
    /// The prior's concept vectors of the rows (with the grounded prior).
    prior: Vec<f32>,
    labels: Vec<i64>,
    /// Rows from the current experience's shuffled pass (the first rows).
    incoming: usize,
    /// Stored scores of the rows replayed from memory (empty unless score replay is on).
    stored: Vec<f32>,
    /// Rows replayed from memory.
    stored_rows: usize,
}

impl Batch {
    fn clear(&mut self) {
        self.data.clear();
        self.prior.clear();
        self.labels.clear();
        self.stored.clear();
        self.incoming = 0;
        self.stored_rows = 0;
    }

    fn push(&mut self, sample: &[f32], label: u32, prior: Option<&Vec<f32>>) {
        self.data.extend_from_slice(sample);
        self.labels.push(label as i64);
        if let Some(prior) = prior {
            self.prior.extend_from_slice(prior);
        }
    }
}

/// What stays fixed during one `train` call: which classes the current experience holds.
struct BatchPlan {
    incoming: Incoming,
    /// Per class: whether the current experience has examples of it.
    current: Vec<bool>,
    /// Classes in the current experience.
    current_classes: usize,
    /// Classes the replay half can show: those in memory or in the current experience.
    in_play: usize,
}

impl BatchPlan {
    fn new(learner: &Learner) -> Self {
        let mut current = vec![false; learner.classes.len()];
        learner.pending.labels.iter().for_each(|&l| current[l as usize] = true);
        let stored = learner.memory.class_counts();
        let in_play =
            current.iter().enumerate().filter(|&(c, &now)| now || stored.get(c).is_some_and(|&n| n > 0)).count();
        let current_classes = current.iter().filter(|&&c| c).count();
        Self { incoming: learner.config.objective.incoming, current, current_classes, in_play }
    }

    /// How many of the replay half's `replay` rows the current experience fills: none for plain ER; with the
    /// asymmetric loss, its share of the classes in play, as a class-balanced buffer fed by the stream holds.
    fn current_share(&self, replay: usize, incoming: usize) -> usize {
        if self.incoming != Incoming::Current || incoming == 0 || self.in_play == 0 {
            return 0;
        }
        (replay * self.current_classes + self.in_play / 2) / self.in_play
    }

    /// The additive logit mask `[B × K]` of the asymmetric loss: incoming rows see only the current classes.
    fn mask(&self, batch: &Batch, k: usize) -> Option<Vec<f32>> {
        if self.incoming != Incoming::Current || batch.incoming == 0 {
            return None;
        }
        let mut mask = vec![0.0; batch.labels.len() * k];
        for row in mask.chunks_exact_mut(k).take(batch.incoming) {
            row.iter_mut().zip(&self.current).filter(|(_, now)| !**now).for_each(|(m, _)| *m = MASKED);
        }
        Some(mask)
    }
}

/// Unit anchor of a class: its concept row (concept head), or a random unit vector seeded by (seed, key).
fn anchor(config: &LearnerConfig, concepts: &ConceptSpace, class: &Class) -> Vec<f32> {
    match (config.head, class.concept) {
        (HeadKind::Concepts, Some(i)) => concepts.embedding(i).to_vec(),
        _ => random_anchor(config.seed, &class.key, concepts.dim()),
    }
}

/// The anchor head of `classes`.
pub(crate) fn anchor_head(config: &LearnerConfig, concepts: &ConceptSpace, classes: &[Class], device: &Device) -> Head {
    let rows = classes.iter().flat_map(|class| anchor(config, concepts, class)).collect();
    Head::anchors(rows, concepts.dim(), device)
}

/// A unit vector from a normal distribution seeded by `(seed, key)`: stable per class name.
fn random_anchor(seed: u64, key: &str, dim: usize) -> Vec<f32> {
    let mut h = seed ^ 0xCBF2_9CE4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01B3);
    }
    let mut rng = StdRng::seed_from_u64(h);
    let v: Vec<f32> = (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}
