//! # cvm — Continual Visual Mapping
//!
//! A small vision student is trained continually to map images into a fixed concept space taken from a
//! language model. Each class is anchored at its name's concept embedding, so a new class adds no weights
//! and old classes keep their place. This crate owns the whole method — concept spaces, students, the
//! objective and its baselines, replay memory, the learner, snapshots and metrics — and is backend-agnostic:
//! everything takes a burn [`Device`](burn::tensor::Device) and reads data back only through async calls.

pub mod blob;
pub mod concepts;
pub mod efficientnet;
pub mod efficientnet_cpu;
pub mod error;
pub mod image;
pub mod learner;
pub mod map;
pub mod memory;
pub mod metrics;
pub mod objective;
pub mod openset;
pub mod params;
pub mod prior;
pub mod snapshot;
pub mod student;
pub mod synthetic;
pub mod trunk;
pub mod vector;

pub use blob::BlobDtype;
pub use concepts::{ConceptBlob, ConceptSpace, concept_key};
pub use error::{CvmError, Result};
pub use image::{ImageView, InputSpec, Normalization, PixelFormat, Preprocessor};
pub use learner::{Class, Learner, LearnerConfig, Prediction, Recognition, TrainReport};
pub use memory::{ReplayMemory, Samples};
pub use metrics::AccuracyMatrix;
pub use objective::HeadKind;
pub use student::StudentConfig;

/// Re-exported so front ends use the same burn as the core.
pub use burn;
