//! The settings and classes as snapshots store them: types of their own, converted to and from the live ones, so
//! that renaming or reshaping a live type cannot change what learners saved in users' browsers say. Their JSON is
//! the snapshot format of versions 1 and 2 (fields added since read as the defaults older learners ran with); a
//! change here is a new snapshot version with its conversion. `tests/fixtures/` holds a learner saved by an earlier
//! release, which must keep loading.

use serde::{Deserialize, Serialize};

use crate::image::{InputSpec, Normalization};
use crate::learner::{Class, LearnerConfig};
use crate::objective::{HeadKind, Incoming, Objective};
use crate::student::StudentConfig;

#[derive(Serialize, Deserialize)]
pub(super) struct SavedConfig {
    student: SavedStudent,
    head: SavedHead,
    scale: f32,
    mapping_weight: f32,
    #[serde(default)]
    incoming: SavedIncoming,
    #[serde(default)]
    triplet_weight: f32,
    #[serde(default = "default_margin")]
    triplet_margin: f32,
    #[serde(default)]
    distill_weight: f32,
    #[serde(default)]
    distill_old_only: bool,
    #[serde(default)]
    distill_new_centred: bool,
    #[serde(default)]
    score_replay_weight: f32,
    learning_rate: f64,
    batch_size: usize,
    memory: usize,
    seed: u64,
    #[serde(default = "default_accept_rate")]
    accept_rate: f32,
    #[serde(default)]
    concept_prior: bool,
}

fn default_margin() -> f32 {
    0.1
}

fn default_accept_rate() -> f32 {
    0.95
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum SavedStudent {
    TinyCnn { input: SavedInput, widths: [usize; 3], hidden: usize },
    Adapter { input: SavedInput, features: usize, hidden: usize },
}

#[derive(Serialize, Deserialize)]
struct SavedInput {
    channels: usize,
    size: usize,
    normalization: SavedNormalization,
}

#[derive(Serialize, Deserialize)]
enum SavedNormalization {
    UnitRange,
    Centered,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SavedHead {
    Concepts,
    RandomAnchors,
    Linear,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum SavedIncoming {
    #[default]
    All,
    Current,
}

#[derive(Serialize, Deserialize)]
pub(super) struct SavedClass {
    key: String,
    name: String,
    concept: Option<usize>,
}

impl From<&LearnerConfig> for SavedConfig {
    fn from(c: &LearnerConfig) -> Self {
        let o = &c.objective;
        Self {
            student: (&c.student).into(),
            head: match c.head {
                HeadKind::Concepts => SavedHead::Concepts,
                HeadKind::RandomAnchors => SavedHead::RandomAnchors,
                HeadKind::Linear => SavedHead::Linear,
            },
            scale: o.scale,
            mapping_weight: o.mapping_weight,
            incoming: match o.incoming {
                Incoming::All => SavedIncoming::All,
                Incoming::Current => SavedIncoming::Current,
            },
            triplet_weight: o.triplet_weight,
            triplet_margin: o.triplet_margin,
            distill_weight: o.distill_weight,
            distill_old_only: o.distill_old_only,
            distill_new_centred: o.distill_new_centred,
            score_replay_weight: o.score_replay_weight,
            learning_rate: c.learning_rate,
            batch_size: c.batch_size,
            memory: c.memory,
            seed: c.seed,
            accept_rate: c.accept_rate,
            concept_prior: c.concept_prior,
        }
    }
}

impl From<SavedConfig> for LearnerConfig {
    fn from(s: SavedConfig) -> Self {
        let objective = Objective {
            scale: s.scale,
            mapping_weight: s.mapping_weight,
            incoming: match s.incoming {
                SavedIncoming::All => Incoming::All,
                SavedIncoming::Current => Incoming::Current,
            },
            triplet_weight: s.triplet_weight,
            triplet_margin: s.triplet_margin,
            distill_weight: s.distill_weight,
            distill_old_only: s.distill_old_only,
            distill_new_centred: s.distill_new_centred,
            score_replay_weight: s.score_replay_weight,
        };
        Self {
            student: s.student.into(),
            head: match s.head {
                SavedHead::Concepts => HeadKind::Concepts,
                SavedHead::RandomAnchors => HeadKind::RandomAnchors,
                SavedHead::Linear => HeadKind::Linear,
            },
            objective,
            learning_rate: s.learning_rate,
            batch_size: s.batch_size,
            memory: s.memory,
            seed: s.seed,
            accept_rate: s.accept_rate,
            concept_prior: s.concept_prior,
        }
    }
}

impl From<&StudentConfig> for SavedStudent {
    fn from(c: &StudentConfig) -> Self {
        match *c {
            StudentConfig::TinyCnn { input, widths, hidden } => Self::TinyCnn { input: input.into(), widths, hidden },
            StudentConfig::Adapter { input, features, hidden } => {
                Self::Adapter { input: input.into(), features, hidden }
            }
        }
    }
}

impl From<SavedStudent> for StudentConfig {
    fn from(s: SavedStudent) -> Self {
        match s {
            SavedStudent::TinyCnn { input, widths, hidden } => Self::TinyCnn { input: input.into(), widths, hidden },
            SavedStudent::Adapter { input, features, hidden } => {
                Self::Adapter { input: input.into(), features, hidden }
            }
        }
    }
}

impl From<InputSpec> for SavedInput {
    fn from(i: InputSpec) -> Self {
        let normalization = match i.normalization {
            Normalization::UnitRange => SavedNormalization::UnitRange,
            Normalization::Centered => SavedNormalization::Centered,
        };
        Self { channels: i.channels, size: i.size, normalization }
    }
}

impl From<SavedInput> for InputSpec {
    fn from(s: SavedInput) -> Self {
        let normalization = match s.normalization {
            SavedNormalization::UnitRange => Normalization::UnitRange,
            SavedNormalization::Centered => Normalization::Centered,
        };
        Self { channels: s.channels, size: s.size, normalization }
    }
}

impl From<&Class> for SavedClass {
    fn from(c: &Class) -> Self {
        Self { key: c.key.clone(), name: c.name.clone(), concept: c.concept }
    }
}

impl From<SavedClass> for Class {
    fn from(s: SavedClass) -> Self {
        Self { key: s.key, name: s.name, concept: s.concept }
    }
}
