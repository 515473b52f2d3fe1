//! Heads and losses: the CVM objective (cosine logits against fixed anchors) and the baselines' terms.
//!
//! CVM: `z = normalize(student(x))`, logits `s · <z, t_c>` over the classes seen so far, cross-entropy, plus
//! - a mapping term `λ · (1 − <z, t_y>)` pulling `z` onto its own anchor;
//! - a metric term `μ · max(0, m + d(z, t_y) − d(z, t_n))`, `d = 1 − cos`, against the hardest negative anchor;
//! - a relational distillation `β · mean((d_now(x, t_k) − d_prev(x, t_k))²)` over the anchors of the classes
//!   known before the current experience, against a frozen copy of the previous experience's network, on every
//!   sample or (`distill_old_only`) only on those of the old classes; with `distill_new_centred` the samples of
//!   the classes being learnt keep only the shape of their distances (each row's drift less its mean), so they
//!   may move away from every old anchor at once.
//!
//! Incoming samples may compete only among the current experience's classes while replayed ones compete among
//! all (the asymmetric, ER-ACE form); that is a mask on the logits, the same for every head. The linear-head
//! baselines (ER, ER-ACE, DER++) share every term that is not about anchors: the mask, the distillation of
//! their previous scores, and the replay of stored scores (DER++). No weights grow with classes in CVM.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{log_softmax, relu};
use serde::{Deserialize, Serialize};

/// How logits are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    /// CVM: each class anchored at its name's concept embedding.
    Concepts,
    /// CVM with random unit anchors of the same dimension (the control for "does language help?").
    RandomAnchors,
    /// A linear cross-entropy head that grows with the classes (fine-tune / ER baselines).
    Linear,
}

impl HeadKind {
    pub fn uses_anchors(self) -> bool {
        !matches!(self, Self::Linear)
    }
}

/// Which classes an incoming (current-experience) sample competes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Incoming {
    /// Every class seen so far (plain ER).
    #[default]
    All,
    /// Only the current experience's classes; replayed samples compete among all, and the replay half of a
    /// batch also draws the current classes, as a stream-fed buffer would hold them (ER-ACE).
    Current,
}

/// A logit that a mask removes: far below any reachable logit, yet finite so no NaN can arise.
pub const MASKED: f32 = -1e4;

/// L2-normalises the rows of `[B, d]`.
pub fn normalize_rows(z: Tensor<2>) -> Tensor<2> {
    let norm = z.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    z / norm
}

/// Cosines `[B, K]` between the rows of `z_raw [B, d]` (normalised here) and unit anchors `[K, d]`.
pub fn cosines(z_raw: Tensor<2>, anchors: Tensor<2>) -> Tensor<2> {
    normalize_rows(z_raw).matmul(anchors.transpose())
}

/// Mean cross-entropy of `[B, K]` logits against `[B]` class indices.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let picked = log_softmax(logits, 1).gather(1, targets.unsqueeze_dim(1));
    picked.mean().neg()
}

/// Mean `1 − cos(z, t_y)`: the pull of each sample onto its own anchor.
pub fn mapping_term(cosines: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    cosines.gather(1, targets.unsqueeze_dim(1)).neg().add_scalar(1.0).mean()
}

/// Mean `max(0, margin + d(z, t_y) − d(z, t_n))` with `d = 1 − cos` and `t_n` the nearest anchor other than
/// the own one among those `mask` allows (`mask [B, K]`: 0 allowed, [`MASKED`] not). A sample without an
/// allowed negative contributes 0.
pub fn triplet_term(cosines: Tensor<2>, targets: Tensor<1, Int>, mask: Option<Tensor<2>>, margin: f32) -> Tensor<1> {
    let [b, k] = cosines.dims();
    let device = cosines.device();
    let own = cosines.clone().gather(1, targets.clone().unsqueeze_dim(1));
    // The own class as a mask, without `one_hot` (whose argument check reads the device synchronously).
    let classes = Tensor::<1, Int>::arange(0..k as i64, &device).unsqueeze_dim::<2>(0).expand([b, k]);
    let not_own = targets.unsqueeze_dim::<2>(1).expand([b, k]).equal(classes).float().mul_scalar(MASKED);
    let candidates = cosines + not_own;
    let candidates = match mask {
        Some(mask) => candidates + mask,
        None => candidates,
    };
    let nearest = candidates.max_dim(1);
    relu(nearest - own + margin).mean()
}

/// The weights of the objective's terms (0 switches a term off); stored with the learner's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// Logit scale `s` of the cosine head.
    pub scale: f32,
    /// Weight `λ` of the mapping term `1 − <z, t_y>` (anchor heads).
    pub mapping_weight: f32,
    /// Which classes incoming samples compete with.
    #[serde(default)]
    pub incoming: Incoming,
    /// Weight `μ` of the metric (triplet) term on cosine distances (anchor heads).
    #[serde(default)]
    pub triplet_weight: f32,
    /// Margin `m` of the metric term.
    #[serde(default = "default_margin")]
    pub triplet_margin: f32,
    /// Weight `β` of the distillation of the previous experience's scores on the classes known before it.
    #[serde(default)]
    pub distill_weight: f32,
    /// Distil only the samples of classes known before the experience (replayed ones), not those of the classes
    /// being learnt, whose distances to the old anchors are meant to change.
    #[serde(default)]
    pub distill_old_only: bool,
    /// On the samples of the classes being learnt, distil only how their distances to the old anchors differ
    /// from one another (each row's drift less its mean), so they may move away from every old anchor at once
    /// (moot with `distill_old_only`, which skips those rows).
    #[serde(default)]
    pub distill_new_centred: bool,
    /// Weight `α` of the replay of the scores stored with each replayed sample (DER++).
    #[serde(default)]
    pub score_replay_weight: f32,
}

fn default_margin() -> f32 {
    0.1
}

impl Default for Objective {
    /// The terms as they stood before distillation, the metric term and the asymmetric loss existed (what a
    /// saved learner without these settings used, and what the linear-head baselines start from).
    fn default() -> Self {
        Self {
            scale: 16.0,
            mapping_weight: 0.5,
            incoming: Incoming::All,
            triplet_weight: 0.0,
            triplet_margin: 0.1,
            distill_weight: 0.0,
            distill_old_only: false,
            distill_new_centred: false,
            score_replay_weight: 0.0,
        }
    }
}

/// What one training step's loss is computed from.
pub struct StepScores {
    /// Scores `[B, K]` over the known classes: cosines to the anchors (anchor heads) or logits (linear head).
    pub scores: Tensor<2>,
    /// Whether `scores` are cosines (anchor heads).
    pub cosines: bool,
    pub targets: Tensor<1, Int>,
    /// Additive logit mask `[B, K]` (0 or [`MASKED`]) for the asymmetric incoming loss.
    pub mask: Option<Tensor<2>>,
    /// The frozen previous network's scores over the classes known before this experience, `[B, K_old]`.
    pub previous: Option<Tensor<2>>,
    /// Stored scores of the rows replayed from memory: the first such row and `[R, slots]` (zero where a
    /// class was unknown when the sample was stored; only the first `min(slots, K)` classes count).
    pub stored: Option<(usize, Tensor<2>)>,
}

impl Objective {
    /// CVM as the learner ships it, chosen by the class-incremental benchmark (README): incoming samples pulled
    /// onto their anchors and contrasted only with the current classes, the previous experience's distances to
    /// the old anchors distilled, a stronger pull than the first form's 0.5.
    pub fn cvm() -> Self {
        Self { mapping_weight: 1.0, incoming: Incoming::Current, distill_weight: 5.0, ..Self::default() }
    }

    pub fn validate(&self) -> Result<(), String> {
        let weight = |name: &str, w: f32| {
            if w.is_finite() && (0.0..=100.0).contains(&w) {
                Ok(())
            } else {
                Err(format!("{name} must be in [0, 100], got {w}"))
            }
        };
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 100.0) {
            return Err(format!("scale must be in (0, 100], got {}", self.scale));
        }
        weight("mapping weight", self.mapping_weight)?;
        weight("triplet weight", self.triplet_weight)?;
        weight("distillation weight", self.distill_weight)?;
        weight("score replay weight", self.score_replay_weight)?;
        if !(self.triplet_margin.is_finite() && (0.0..=2.0).contains(&self.triplet_margin)) {
            return Err(format!("triplet margin must be in [0, 2], got {}", self.triplet_margin));
        }
        Ok(())
    }

    /// The step's loss `[1]` and its logits `[B, K]` (for accuracy).
    pub fn loss(&self, step: StepScores) -> (Tensor<1>, Tensor<2>) {
        let StepScores { scores, cosines, targets, mask, previous, stored } = step;
        let logits = if cosines { scores.clone().mul_scalar(self.scale) } else { scores.clone() };
        let masked = match &mask {
            Some(mask) => logits.clone() + mask.clone(),
            None => logits.clone(),
        };
        let mut loss = cross_entropy(masked, targets.clone());
        if cosines && self.mapping_weight != 0.0 {
            loss = loss + mapping_term(scores.clone(), targets.clone()).mul_scalar(self.mapping_weight);
        }
        if cosines && self.triplet_weight != 0.0 {
            loss = loss
                + triplet_term(scores.clone(), targets.clone(), mask, self.triplet_margin)
                    .mul_scalar(self.triplet_weight);
        }
        let [b, k] = scores.dims();
        if let Some(previous) = previous.filter(|_| self.distill_weight != 0.0) {
            let old = previous.dims()[1];
            let drift = scores.clone().slice([0..b, 0..old]) - previous;
            let term = if self.distill_old_only {
                let rows = targets.lower_elem(old as i64).float().unsqueeze_dim::<2>(1);
                let per_row = drift.square().mean_dim(1) * rows.clone();
                per_row.sum() / rows.sum().clamp_min(1.0)
            } else if self.distill_new_centred {
                let new_rows = targets.greater_equal_elem(old as i64).float().unsqueeze_dim::<2>(1);
                (drift.clone() - drift.mean_dim(1) * new_rows).square().mean()
            } else {
                drift.square().mean()
            };
            loss = loss + term.mul_scalar(self.distill_weight);
        }
        if let Some((first, stored)) = stored.filter(|_| self.score_replay_weight != 0.0) {
            let [r, slots] = stored.dims();
            let known = slots.min(k);
            let now = scores.slice([first..first + r, 0..known]);
            let drift = now - stored.slice([0..r, 0..known]);
            loss = loss + drift.square().mean().mul_scalar(self.score_replay_weight);
        }
        (loss, logits)
    }
}

/// Linear classifier with spare capacity; only the first `classes` columns are used, so it "grows" by
/// using more columns, and doubles its capacity when full.
#[derive(Module, Debug)]
pub struct LinearHead {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl LinearHead {
    pub fn new(dim: usize, capacity: usize, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(Tensor::zeros([dim, capacity], device)),
            bias: Param::from_tensor(Tensor::zeros([capacity], device)),
        }
    }

    pub fn capacity(&self) -> usize {
        self.bias.dims()[0]
    }

    /// Logits of the first `classes` classes.
    pub fn forward(&self, z: Tensor<2>, classes: usize) -> Tensor<2> {
        let [dim, _] = self.weight.dims();
        let w = self.weight.val().slice([0..dim, 0..classes]);
        let b = self.bias.val().slice(0..classes);
        z.matmul(w) + b.unsqueeze_dim(0)
    }

    /// The head with room for at least `classes`: existing columns kept, new ones zero.
    pub fn grown(self, classes: usize) -> Self {
        if classes <= self.capacity() {
            return self;
        }
        let capacity = classes.next_power_of_two();
        let [dim, old] = self.weight.dims();
        let device = self.weight.device();
        // Detached after the concatenation, so the new parameters are leaves of the autodiff graph.
        let weight = Tensor::cat(vec![self.weight.val(), Tensor::zeros([dim, capacity - old], &device)], 1).detach();
        let bias = Tensor::cat(vec![self.bias.val(), Tensor::zeros([capacity - old], &device)], 0).detach();
        Self { weight: Param::from_tensor(weight), bias: Param::from_tensor(bias) }
    }

    /// The head without class `index`'s column: the later ones move down by one, the capacity stays.
    pub fn without(self, index: usize) -> Self {
        let cap = self.capacity();
        let keep: Vec<i64> = (0..cap as i64).filter(|&c| c != index as i64).chain([index as i64]).collect();
        let keep = Tensor::<1, Int>::from_data(TensorData::new(keep, [cap]), &self.weight.device());
        let weight = self.weight.val().select(1, keep.clone()).detach();
        let bias = self.bias.val().select(0, keep).detach();
        Self { weight: Param::from_tensor(weight), bias: Param::from_tensor(bias) }
    }
}

/// How concept vectors become class scores: a learner has exactly one head, of the kind its config names.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per learner, and burn's module derive does not see through a Box
pub enum Head {
    /// Cosines to fixed unit anchors, a row per known class (one zero row before the first class, as a tensor
    /// is never empty): never trained, rebuilt as classes come and go.
    Anchors(Tensor<2>),
    /// Logits of a linear classifier trained with the student.
    Linear(LinearHead),
}

impl Head {
    /// A head of `kind` for concept vectors of `dim`, before the first class.
    pub fn new(kind: HeadKind, dim: usize, device: &Device) -> Self {
        match kind {
            HeadKind::Linear => Self::Linear(LinearHead::new(dim, 16, device)),
            HeadKind::Concepts | HeadKind::RandomAnchors => Self::anchors(Vec::new(), dim, device),
        }
    }

    /// An anchor head over unit `rows` (`[K × dim]`, row-major).
    pub fn anchors(rows: Vec<f32>, dim: usize, device: &Device) -> Self {
        let rows = if rows.is_empty() { vec![0.0; dim] } else { rows };
        let k = rows.len() / dim;
        Self::Anchors(Tensor::from_data(TensorData::new(rows, [k, dim]), device))
    }

    /// Scores `[B, classes]` of raw concept vectors `z [B, d]`: cosines to the first `classes` anchors, or
    /// linear logits.
    pub fn scores(&self, z: Tensor<2>, classes: usize) -> Tensor<2> {
        match self {
            Self::Anchors(anchors) => {
                let [_, d] = anchors.dims();
                cosines(z, anchors.clone().slice([0..classes, 0..d]))
            }
            Self::Linear(head) => head.forward(z, classes),
        }
    }

    /// Whether the scores are cosines (to be scaled into logits) rather than logits.
    pub fn scores_cosines(&self) -> bool {
        matches!(self, Self::Anchors(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_data().try_to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn cross_entropy_matches_hand_computation() {
        let d = device();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0, 1.0], [2, 2]), &d);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 0], [2]), &d);
        // Row 0: log(1 + e^-2); row 1: log(1 + e^1).
        let expected = ((1.0f32 + (-2.0f32).exp()).ln() + (1.0f32 + 1.0f32.exp()).ln()) / 2.0;
        assert!((scalar(cross_entropy(logits, targets)) - expected).abs() < 1e-6);
    }

    fn matrix(values: &[f32], rows: usize, d: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), [rows, values.len() / rows]), d)
    }

    fn labels(values: &[i64], d: &Device) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), d)
    }

    fn only(objective: Objective) -> Objective {
        Objective { scale: 2.0, mapping_weight: 0.0, ..objective }
    }

    fn plain(scores: Tensor<2>, targets: Tensor<1, Int>) -> StepScores {
        StepScores { scores, cosines: true, targets, mask: None, previous: None, stored: None }
    }

    #[test]
    fn cvm_loss_matches_hand_computation() {
        let d = device();
        // z_raw = (3, 0) normalises to (1, 0); anchors e1, e2; scale 2 → logits (2, 0).
        let cos = cosines(matrix(&[3.0, 0.0], 1, &d), matrix(&[1.0, 0.0, 0.0, 1.0], 2, &d));
        let (loss, logits) = only(Objective::default()).loss(plain(cos.clone(), labels(&[0], &d)));
        assert!((scalar(loss) - (1.0f32 + (-2.0f32).exp()).ln()).abs() < 1e-6);
        assert_eq!(logits.into_data().try_to_vec::<f32>().unwrap(), vec![2.0, 0.0]);
        // Target 1 with mapping weight 0.5: CE = log(1 + e^2), mapping = 0.5 · (1 − 0).
        let (loss, _) =
            Objective { mapping_weight: 0.5, ..only(Objective::default()) }.loss(plain(cos, labels(&[1], &d)));
        assert!((scalar(loss) - ((1.0f32 + 2.0f32.exp()).ln() + 0.5)).abs() < 1e-5);
    }

    #[test]
    fn masked_logits_leave_the_softmax() {
        let d = device();
        // Logits (2, 0, 1)·… with class 1 masked: CE of target 0 is log(1 + e^(1 − 2)).
        let step = StepScores {
            mask: Some(matrix(&[0.0, MASKED, 0.0], 1, &d)),
            cosines: false,
            ..plain(matrix(&[2.0, 0.0, 1.0], 1, &d), labels(&[0], &d))
        };
        let (loss, logits) = Objective::default().loss(step);
        assert!((scalar(loss) - (1.0f32 + (-1.0f32).exp()).ln()).abs() < 1e-6);
        assert_eq!(
            logits.into_data().try_to_vec::<f32>().unwrap(),
            vec![2.0, 0.0, 1.0],
            "the reported logits are unmasked"
        );
    }

    #[test]
    fn triplet_term_matches_hand_computation() {
        let d = device();
        let cos = matrix(&[0.5, 0.45, 0.2, 0.1, 0.9, 0.3], 2, &d);
        // Row 0 (own 0): hardest negative 0.45 → 0.1 + 0.45 − 0.5 = 0.05. Row 1 (own 1): 0.1 + 0.3 − 0.9 < 0 → 0.
        assert!((scalar(triplet_term(cos.clone(), labels(&[0, 1], &d), None, 0.1)) - 0.025).abs() < 1e-6);
        // With class 1 masked for row 0 its hardest negative is 0.2 → 0; a row with no negative left gives 0.
        let mask = matrix(&[0.0, MASKED, 0.0, MASKED, 0.0, MASKED], 2, &d);
        assert!(scalar(triplet_term(cos.clone(), labels(&[0, 1], &d), Some(mask), 0.1)).abs() < 1e-6);
        let (loss, _) = Objective { triplet_weight: 2.0, ..only(Objective::default()) }
            .loss(plain(cos.clone(), labels(&[0, 1], &d)));
        let (ce, _) = only(Objective::default()).loss(plain(cos, labels(&[0, 1], &d)));
        assert!((scalar(loss) - scalar(ce) - 0.05).abs() < 1e-5);
    }

    #[test]
    fn distillation_matches_hand_computation_and_is_zero_when_nothing_changed() {
        let d = device();
        let scores = matrix(&[0.5, 0.1, 0.9], 1, &d);
        let objective = Objective { distill_weight: 3.0, ..only(Objective::default()) };
        let (base, _) = only(Objective::default()).loss(plain(scores.clone(), labels(&[2], &d)));
        let with = |previous: &[f32]| {
            let step =
                StepScores { previous: Some(matrix(previous, 1, &d)), ..plain(scores.clone(), labels(&[2], &d)) };
            scalar(objective.loss(step).0) - scalar(base.clone())
        };
        // Two old classes: drifts (0.2, 0) → 3 · 0.04 / 2.
        assert!((with(&[0.3, 0.1]) - 0.06).abs() < 1e-5);
        assert!(with(&[0.5, 0.1]).abs() < 1e-6, "an unchanged model is not penalised");
    }

    #[test]
    fn distillation_of_the_new_classes_rows_skipped_or_centred() {
        let d = device();
        // Row 0 is of old class 1, row 1 of new class 2; two old classes.
        let scores = matrix(&[0.5, 0.1, 0.9, 0.2, 0.3, 0.4], 2, &d);
        let previous = matrix(&[0.3, 0.1, 0.0, 0.0], 2, &d);
        let extra = |distill_old_only: bool, distill_new_centred: bool| {
            let objective =
                Objective { distill_weight: 3.0, distill_old_only, distill_new_centred, ..only(Objective::default()) };
            let (base, _) = only(Objective::default()).loss(plain(scores.clone(), labels(&[1, 2], &d)));
            let step = StepScores { previous: Some(previous.clone()), ..plain(scores.clone(), labels(&[1, 2], &d)) };
            scalar(objective.loss(step).0) - scalar(base)
        };
        // Every row: squared drifts (0.04, 0, 0.04, 0.09) → mean 0.0425 → · 3.
        assert!((extra(false, false) - 0.1275).abs() < 1e-5);
        // Row 0 only: (0.04 + 0) / 2 → · 3.
        assert!((extra(true, false) - 0.06).abs() < 1e-5);
        // Row 1 less its mean drift 0.25: (0.04, 0, 0.0025, 0.0025) → mean 0.01125 → · 3.
        assert!((extra(false, true) - 0.03375).abs() < 1e-5);
    }

    #[test]
    fn stored_score_replay_matches_hand_computation() {
        let d = device();
        // Three rows, the last two replayed; stored scores know only the first class (the second slot is 0).
        let scores = matrix(&[0.9, 0.0, 0.5, 0.2, 0.4, 0.4], 3, &d);
        let stored = matrix(&[0.3, 0.0, 0.4, 0.0], 2, &d);
        let objective = Objective { score_replay_weight: 0.5, ..only(Objective::default()) };
        let (base, _) = only(Objective::default()).loss(plain(scores.clone(), labels(&[0, 0, 1], &d)));
        let step = StepScores { stored: Some((1, stored)), ..plain(scores, labels(&[0, 0, 1], &d)) };
        // Squared drifts (0.04, 0.04, 0, 0.16) → mean 0.06 → · 0.5.
        assert!((scalar(objective.loss(step).0) - scalar(base) - 0.03).abs() < 1e-5);
    }

    #[test]
    fn full_objective_gradient_matches_finite_differences() {
        let old_only = Objective {
            scale: 5.0,
            mapping_weight: 0.3,
            incoming: Incoming::Current,
            triplet_weight: 0.7,
            triplet_margin: 0.5,
            distill_weight: 2.0,
            distill_old_only: true,
            distill_new_centred: false,
            score_replay_weight: 0.4,
        };
        let new_centred = Objective { distill_old_only: false, distill_new_centred: true, ..old_only };
        for objective in [old_only, new_centred] {
            gradient_matches_finite_differences(objective);
        }
    }

    fn gradient_matches_finite_differences(objective: Objective) {
        let z0 = vec![0.3f32, -1.2, 0.7, 0.1, 0.5, 0.4, -0.2, 0.9];
        let anchors = vec![0.6f32, 0.0, 0.8, 0.0, 0.0, 1.0, 0.0, 0.0, -0.5, 0.5, 0.5, 0.5];
        let loss_of = |z: Tensor<2>| {
            let dev = z.device();
            let cos = cosines(z, matrix(&anchors, 3, &dev));
            let step = StepScores {
                scores: cos,
                cosines: true,
                targets: labels(&[2, 0], &dev),
                mask: Some(matrix(&[MASKED, 0.0, 0.0, 0.0, 0.0, 0.0], 2, &dev)),
                previous: Some(matrix(&[0.1, -0.2, 0.3, 0.0], 2, &dev)),
                stored: Some((1, matrix(&[0.2, 0.1, 0.0], 1, &dev))),
            };
            objective.loss(step).0
        };
        let tracked = device().autodiff();
        let z = Tensor::<2>::from_data(TensorData::new(z0.clone(), [2, 4]), &tracked).require_grad();
        let grads = loss_of(z.clone()).backward();
        let analytic = z.grad(&grads).expect("gradient").into_data().try_to_vec::<f32>().unwrap();
        let h = 1e-2f32;
        for i in 0..z0.len() {
            let at = |delta: f32| {
                let mut v = z0.clone();
                v[i] += delta;
                scalar(loss_of(Tensor::from_data(TensorData::new(v, [2, 4]), &device())))
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 3e-3 + 2e-2 * numeric.abs(),
                "component {i}: numeric {numeric}, analytic {}",
                analytic[i]
            );
        }
    }

    #[test]
    fn linear_head_grows_and_keeps_columns() {
        let d = device();
        let head = LinearHead::new(3, 2, &d);
        let head = LinearHead { weight: Param::from_tensor(Tensor::ones([3, 2], &d)), ..head };
        let grown = head.grown(3);
        assert_eq!(grown.capacity(), 4);
        // On an autodiff device too (the learner's), where the grown parameters must be leaves.
        let tracked = LinearHead::new(3, 2, &d.clone().autodiff()).grown(5);
        assert_eq!(tracked.capacity(), 8);
        let z = Tensor::<2>::ones([1, 3], &d);
        assert_eq!(grown.forward(z, 3).into_data().try_to_vec::<f32>().unwrap(), vec![3.0, 3.0, 0.0]);
    }
}
