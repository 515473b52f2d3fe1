//! The learner: classes added one after another, examples, training with replay, prediction, snapshots.
//!
//! Examples added since the last [`Learner::train`] form the current experience; training draws each batch
//! from it (shuffled, without replacement) plus an equal share from the replay memory, then offers the
//! experience to the memory and clears it. Every example gets an id, by which it can be removed again (from the
//! experience or the memory). Every readback is async and batched, so the same code runs on WebGPU in a page;
//! natively, block on the futures.

use std::sync::Arc;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use burn::tensor::{Transaction, TensorData};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::concepts::{ConceptSpace, concept_key};
use crate::error::{CvmError, Result};
use crate::image::{ImageView, Preprocessor};
use crate::memory::{ReplayMemory, Samples};
use crate::objective::{HeadKind, LinearHead, cross_entropy, cvm_loss, normalize_rows};
use crate::params;
use crate::pretrained::Trunk;
use crate::student::{Student, StudentConfig};

/// Everything that shapes a learner; stored in snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    pub student: StudentConfig,
    pub head: HeadKind,
    /// Logit scale `s` of the cosine head.
    pub scale: f32,
    /// Weight `λ` of the mapping term `1 − <z, t_y>` (0 disables it).
    pub mapping_weight: f32,
    pub learning_rate: f64,
    /// Samples per batch from the current experience (and as many again from replay).
    pub batch_size: usize,
    /// Replay memory budget, in samples (0 = no replay: plain fine-tuning).
    pub memory: usize,
    pub seed: u64,
    /// Below this best-class similarity a prediction is "unknown" (cosine for anchor heads, probability for
    /// the linear head).
    pub unknown_threshold: f32,
}

impl LearnerConfig {
    /// CVM defaults for a student.
    pub fn new(student: StudentConfig) -> Self {
        Self {
            student,
            head: HeadKind::Concepts,
            scale: 16.0,
            mapping_weight: 0.5,
            learning_rate: 1e-3,
            batch_size: 32,
            memory: 500,
            seed: 0,
            unknown_threshold: 0.3,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.student.validate()?;
        let check = |ok: bool, msg: String| if ok { Ok(()) } else { Err(CvmError::arg(msg)) };
        check(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 100.0, format!("scale must be in (0, 100], got {}", self.scale))?;
        check(self.mapping_weight.is_finite() && (0.0..=10.0).contains(&self.mapping_weight), format!("mapping weight must be in [0, 10], got {}", self.mapping_weight))?;
        check(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate <= 1.0, format!("learning rate must be in (0, 1], got {}", self.learning_rate))?;
        check((1..=1024).contains(&self.batch_size), format!("batch size must be in 1..=1024, got {}", self.batch_size))?;
        check(self.memory <= 1_000_000, format!("memory budget must be at most 1000000 samples, got {}", self.memory))?;
        check(self.unknown_threshold.is_finite() && (-1.0..=1.0).contains(&self.unknown_threshold), format!("unknown threshold must be in [-1, 1], got {}", self.unknown_threshold))
    }
}

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
    /// Best class index, or `None` for "unknown".
    pub class: Option<usize>,
    /// Softmax probability per known class, in class order.
    pub probabilities: Vec<f32>,
    /// Cosine similarity per known class (anchor heads) or the probability again (linear head).
    pub similarities: Vec<f32>,
}

impl Prediction {
    /// Index of the highest-scoring class, unknown or not.
    pub fn top(&self) -> Option<usize> {
        self.probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i)
    }
}

/// Continual visual mapping learner.
pub struct Learner {
    pub(crate) config: LearnerConfig,
    pub(crate) concepts: Arc<ConceptSpace>,
    pub(crate) device: Device,
    pub(crate) student: Student,
    pub(crate) head: Option<LinearHead>,
    /// Frozen pretrained trunk of the adapter student.
    pub(crate) trunk: Option<Trunk>,
    optimizer: ModuleOptimizer,
    pub(crate) classes: Vec<Class>,
    /// Unit anchors of the known classes, `[K, d]` (anchor heads only).
    anchors: Option<Tensor<2>>,
    pub(crate) memory: ReplayMemory,
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

/// The trainable part: student plus the optional linear head.
#[derive(Module, Debug)]
pub(crate) struct Network {
    pub student: Student,
    pub head: Option<LinearHead>,
}

impl Learner {
    /// A fresh learner with a student trained from scratch. `device` should have autodiff enabled
    /// (`device.autodiff()`).
    pub fn new(config: LearnerConfig, concepts: Arc<ConceptSpace>, device: Device) -> Result<Self> {
        Self::create(config, concepts, None, device)
    }

    /// A fresh learner whose adapter student sits on `trunk`; `config.student` must be an adapter with the
    /// trunk's input (see [`StudentConfig::adapter`]).
    pub fn with_trunk(config: LearnerConfig, concepts: Arc<ConceptSpace>, trunk: Trunk, device: Device) -> Result<Self> {
        Self::create(config, concepts, Some(trunk), device)
    }

    fn create(config: LearnerConfig, concepts: Arc<ConceptSpace>, trunk: Option<Trunk>, device: Device) -> Result<Self> {
        config.validate()?;
        let student = params::seeded_init(Student::new(&config.student, concepts.dim(), &device), config.seed);
        let head = (config.head == HeadKind::Linear).then(|| LinearHead::new(concepts.dim(), 16, &device));
        Self::assemble(config, concepts, trunk, device, student, head)
    }

    pub(crate) fn assemble(
        config: LearnerConfig,
        concepts: Arc<ConceptSpace>,
        trunk: Option<Trunk>,
        device: Device,
        student: Student,
        head: Option<LinearHead>,
    ) -> Result<Self> {
        match (&trunk, config.student.has_trunk()) {
            (None, true) => return Err(CvmError::arg("this student needs a pretrained trunk: load a student blob")),
            (Some(_), false) => return Err(CvmError::arg("a trunk was given, but the student trains from scratch")),
            (Some(t), true) if t.input() != *config.student.input() => {
                return Err(CvmError::arg(format!("the trunk takes {:?}, the student config says {:?}", t.input(), config.student.input())));
            }
            _ => {}
        }
        let preprocessor = Preprocessor::new(*config.student.input())?;
        Ok(Self {
            memory: ReplayMemory::new(config.memory, config.student.sample_len(), config.seed),
            optimizer: AdamConfig::new().init(),
            scratch: Vec::new(),
            preprocessor,
            student,
            head,
            trunk,
            classes: Vec::new(),
            anchors: None,
            pending: Samples::default(),
            train_events: 0,
            next_example: 0,
            config,
            concepts,
            device,
        })
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

    /// Changes the "unknown" threshold (see [`LearnerConfig::unknown_threshold`]).
    pub fn set_unknown_threshold(&mut self, threshold: f32) -> Result<()> {
        let config = LearnerConfig { unknown_threshold: threshold, ..self.config.clone() };
        config.validate()?;
        self.config = config;
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
        let label = index as u32;
        self.memory.remove_class(label);
        self.pending.remove_class(self.config.student.sample_len(), label);
        if let Some(head) = self.head.take() {
            // Drop the removed column: keep the others in order.
            let [dim, cap] = head.weight.dims();
            let keep: Vec<i64> = (0..cap as i64).filter(|&c| c != index as i64).chain([index as i64]).collect();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(keep, [cap]), &self.device);
            let weight = head.weight.val().select(1, idx.clone()).detach();
            let bias = head.bias.val().select(0, idx).detach();
            let _ = dim;
            self.head = Some(LinearHead { weight: burn::module::Param::from_tensor(weight), bias: burn::module::Param::from_tensor(bias) });
        }
        self.refresh_head();
        Ok(())
    }

    /// Rebuilds the anchor matrix (anchor heads) or grows the linear head for the current classes.
    pub(crate) fn refresh_head(&mut self) {
        let dim = self.concepts.dim();
        if let Some(head) = self.head.take() {
            self.head = Some(head.grown(self.classes.len()));
        }
        if !self.config.head.uses_anchors() || self.classes.is_empty() {
            self.anchors = None;
            return;
        }
        let mut rows = Vec::with_capacity(self.classes.len() * dim);
        for class in &self.classes {
            rows.extend(self.anchor_of(class));
        }
        self.anchors = Some(Tensor::from_data(TensorData::new(rows, [self.classes.len(), dim]), &self.device));
    }

    /// Unit anchor of a class: its concept row, or a random unit vector seeded by (seed, key).
    pub fn anchor_of(&self, class: &Class) -> Vec<f32> {
        match (self.config.head, class.concept) {
            (HeadKind::Concepts, Some(i)) => self.concepts.embedding(i).to_vec(),
            _ => random_anchor(self.config.seed, &class.key, self.concepts.dim()),
        }
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
        let first = self.next_example;
        let ids: Vec<u32> = (0..images.len() as u32)
            .map(|i| first.checked_add(i))
            .collect::<Option<_>>()
            .ok_or_else(|| CvmError::arg("this learner has used up its example ids: export it and start a new one"))?;
        let data = if self.trunk.is_some() {
            to_f32(self.samples(images)?.into_data_async().await?)?
        } else {
            self.preprocess(images)?;
            std::mem::take(&mut self.scratch)
        };
        let finite = data.iter().all(|v| v.is_finite());
        if finite {
            self.pending.data.extend_from_slice(&data);
            self.pending.labels.extend(std::iter::repeat_n(class as u32, images.len()));
            self.pending.ids.extend_from_slice(&ids);
            self.next_example = first + images.len() as u32;
        }
        if self.trunk.is_none() {
            self.scratch = data;
        }
        if !finite {
            return Err(CvmError::InvalidImage("the image gives non-finite values".into()));
        }
        Ok(ids)
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
        self.pending.remove(self.config.student.sample_len(), id) || self.memory.remove(id)
    }

    fn rng(&mut self) -> StdRng {
        self.train_events += 1;
        StdRng::seed_from_u64(self.config.seed.rotate_left(17) ^ self.train_events.wrapping_mul(0xA24B_AED4_963E_E407))
    }

    /// Runs `steps` optimiser steps, then moves the current experience into replay memory.
    pub async fn train(&mut self, steps: usize) -> Result<TrainReport> {
        self.train_with_progress(steps, steps.max(1), |_| true).await
    }

    /// [`Learner::train`], reading the losses back every `report_every` steps (one batched readback, which also
    /// yields to the browser) and calling `on_progress` with the figures so far; it returns `false` to stop
    /// early. Whether stopped or not, the current experience then moves into replay memory.
    pub async fn train_with_progress(&mut self, steps: usize, report_every: usize, mut on_progress: impl FnMut(&TrainReport) -> bool) -> Result<TrainReport> {
        if self.classes.is_empty() {
            return Err(CvmError::NotReady("add a class and some examples before training".into()));
        }
        if self.pending.labels.is_empty() && self.memory.is_empty() {
            return Err(CvmError::NotReady("no examples to train on: add examples first".into()));
        }
        if steps > 100_000 || report_every == 0 {
            return Err(CvmError::arg(format!("steps must be at most 100000 and report_every at least 1, got {steps} and {report_every}")));
        }
        let len = self.config.student.sample_len();
        let mut order: Vec<usize> = (0..self.pending.labels.len()).collect();
        let mut cursor = order.len();
        let mut report = TrainReport { steps: 0, losses: Vec::with_capacity(steps), accuracy: 0.0 };
        let (mut hits_total, mut seen) = (0.0f32, 0usize);
        let mut batch = Vec::new();
        let mut labels = Vec::new();
        while report.steps < steps {
            let chunk = report_every.min(steps - report.steps);
            let mut losses = Vec::with_capacity(chunk);
            let mut hits = Vec::with_capacity(chunk);
            for _ in 0..chunk {
                batch.clear();
                labels.clear();
                let current = if order.is_empty() { 0 } else { self.config.batch_size.min(order.len()) };
                for _ in 0..current {
                    if cursor == order.len() {
                        order.shuffle(&mut self.rng());
                        cursor = 0;
                    }
                    let i = order[cursor];
                    cursor += 1;
                    batch.extend_from_slice(&self.pending.data[i * len..][..len]);
                    labels.push(self.pending.labels[i] as i64);
                }
                let replay = if current == 0 { 2 * self.config.batch_size } else { self.config.batch_size };
                for i in self.memory.draw(replay) {
                    let (sample, label) = self.memory.get(i);
                    batch.extend_from_slice(sample);
                    labels.push(label as i64);
                }
                let (loss, hit) = self.step(&batch, &labels);
                seen += labels.len();
                losses.push(loss);
                hits.push(hit);
            }
            let data = Transaction::default().register(Tensor::cat(losses, 0)).register(Tensor::cat(hits, 0).sum()).execute_async().await?;
            report.losses.extend(to_f32(data[0].clone())?);
            hits_total += to_f32(data[1].clone())?[0];
            report.steps += chunk;
            report.accuracy = hits_total / seen.max(1) as f32;
            if !on_progress(&report) {
                break;
            }
        }
        let pending = std::mem::take(&mut self.pending);
        for ((sample, &label), &id) in pending.data.chunks_exact(len).zip(&pending.labels).zip(&pending.ids) {
            self.memory.insert(sample, label, id)?;
        }
        Ok(report)
    }

    /// One optimiser step; returns the detached loss `[1]` and the number of correct predictions `[1]`.
    fn step(&mut self, batch: &[f32], labels: &[i64]) -> (Tensor<1>, Tensor<1, Int>) {
        let b = labels.len();
        let x = Tensor::<2>::from_data(TensorData::new(batch.to_vec(), [b, self.config.student.sample_len()]), &self.device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels.to_vec(), [b]), &self.device);
        let network = Network { student: self.student.clone(), head: self.head.clone() };
        let (loss, logits) = self.loss(&network, x, y.clone());
        let hits = logits.argmax(1).squeeze_dim::<1>(1).equal(y).int().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &network);
        let network = self.optimizer.step(self.config.learning_rate, network, grads);
        self.student = network.student;
        self.head = network.head;
        (loss.detach(), hits)
    }

    fn loss(&self, network: &Network, x: Tensor<2>, y: Tensor<1, Int>) -> (Tensor<1>, Tensor<2>) {
        let z = network.student.forward(x);
        match (&network.head, &self.anchors) {
            (Some(head), _) => {
                let logits = head.forward(z, self.classes.len());
                (cross_entropy(logits.clone(), y), logits)
            }
            (None, Some(anchors)) => cvm_loss(z, anchors.clone(), y, self.config.scale, self.config.mapping_weight),
            (None, None) => unreachable!("anchor head without classes is refused before training"),
        }
    }

    /// Preprocesses images into the reused scratch buffer.
    fn preprocess(&mut self, images: &[ImageView<'_>]) -> Result<()> {
        let len = self.config.student.input().len();
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
        let input = *self.config.student.input();
        let device = self.device.clone().inner();
        let data = TensorData::new(self.scratch.clone(), [images.len(), input.channels, input.size, input.size]);
        let x = Tensor::<4>::from_data(data, &device);
        Ok(match &self.trunk {
            Some(trunk) => trunk.features(x),
            None => x.flatten(1, 3),
        })
    }

    /// Scores images against the known classes.
    pub async fn predict_batch(&mut self, images: &[ImageView<'_>]) -> Result<Vec<Prediction>> {
        if self.classes.is_empty() {
            return Err(CvmError::NotReady("no classes yet: add a class first".into()));
        }
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let x = self.samples(images)?;
        let k = self.classes.len();
        let z = self.student.valid().forward(x);
        let (probabilities, similarities) = match (&self.head, &self.anchors) {
            (Some(head), _) => {
                let p = softmax(head.valid().forward(z, k), 1);
                (p.clone(), p)
            }
            (None, Some(anchors)) => {
                let cos = normalize_rows(z).matmul(anchors.clone().inner().transpose());
                (softmax(cos.clone().mul_scalar(self.config.scale), 1), cos)
            }
            (None, None) => unreachable!("classes exist, so an anchor matrix exists"),
        };
        let data = Transaction::default().register(probabilities).register(similarities).execute_async().await?;
        let (p, s) = (to_f32(data[0].clone())?, to_f32(data[1].clone())?);
        Ok(p.chunks_exact(k)
            .zip(s.chunks_exact(k))
            .map(|(p, s)| {
                let best = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).expect("k ≥ 1");
                let known = s[best] >= self.config.unknown_threshold;
                Prediction { class: known.then_some(best), probabilities: p.to_vec(), similarities: s.to_vec() }
            })
            .collect())
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
        let z = normalize_rows(self.student.valid().forward(x));
        to_f32(z.into_data_async().await?)
    }

    /// The `k` vocabulary concepts nearest to the image's embedding: `(concept index, cosine)`, best first.
    pub async fn rank_vocabulary(&mut self, image: ImageView<'_>, k: usize) -> Result<Vec<(usize, f32)>> {
        if self.config.head != HeadKind::Concepts {
            return Err(CvmError::NotReady("ranking the vocabulary needs the concept head".into()));
        }
        let z = self.embed_batch(&[image]).await?;
        self.concepts.nearest(&z, k)
    }
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

pub(crate) fn to_f32(data: TensorData) -> Result<Vec<f32>> {
    data.convert::<f32>().try_to_vec::<f32>().map_err(|e| CvmError::Backend(format!("{e:?}")))
}
