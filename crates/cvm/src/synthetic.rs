//! Deterministic synthetic data for tests and examples on every backend: three visually separable classes
//! (horizontal stripes, vertical stripes, a bright square, with noise) and a small concept space naming them.
//!
//! [`reference_run`] is the fixed scenario whose losses must agree across native flex, flex in wasm and
//! WebGPU.

use std::sync::Arc;

use burn::tensor::Device;
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::blob::BlobDtype;
use crate::concepts::{ConceptBlob, ConceptSpace};
use crate::error::Result;
use crate::image::{ImageView, PixelFormat};
use crate::learner::{Learner, LearnerConfig};
use crate::objective::HeadKind;
use crate::student::StudentConfig;

/// Names of the concept space; the first three are the synthetic classes.
pub const NAMES: [&str; 4] = ["cat", "dog", "truck", "coffee mug"];

/// Four concepts in 8 dims: distinct, not orthogonal.
pub fn concept_blob() -> Vec<u8> {
    let embeddings = vec![
        1.0, 0.2, 0.0, 0.1, 0.0, 0.0, 0.3, 0.0, //
        0.7, 0.8, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0, //
        -0.3, 0.0, 1.0, 0.0, 0.4, 0.0, 0.0, 0.1, //
        0.0, -0.2, 0.1, 1.0, 0.0, 0.5, 0.0, 0.0,
    ];
    let blob =
        ConceptBlob { names: NAMES.iter().map(|s| s.to_string()).collect(), embeddings, dim: 8, ..Default::default() };
    blob.to_bytes(BlobDtype::F32).expect("valid blob")
}

pub fn concepts() -> Arc<ConceptSpace> {
    Arc::new(ConceptSpace::from_bytes(&concept_blob()).expect("valid blob"))
}

/// A `side`×`side` grey image of class `c` (0 horizontal stripes, 1 vertical stripes, 2 a bright square).
pub fn image(c: usize, side: usize, rng: &mut StdRng) -> Vec<u8> {
    let phase = rng.random_range(0..4);
    let (cx, cy) = (rng.random_range(side / 4..3 * side / 4), rng.random_range(side / 4..3 * side / 4));
    (0..side * side)
        .map(|i| {
            let (x, y) = (i % side, i / side);
            let on = match c {
                0 => (y + phase) % 4 < 2,
                1 => (x + phase) % 4 < 2,
                _ => x.abs_diff(cx) < side / 5 && y.abs_diff(cy) < side / 5,
            };
            let noise: i32 = rng.random_range(-30..30);
            ((if on { 200 } else { 40 }) + noise).clamp(0, 255) as u8
        })
        .collect()
}

/// The same image as RGBA (grey in every channel, opaque).
pub fn rgba(grey: &[u8]) -> Vec<u8> {
    grey.iter().flat_map(|&v| [v, v, v, 255]).collect()
}

/// A `side`×`side` RGBA frame whose three channels differ everywhere (gradients and a checkerboard), for
/// comparing a network's outputs across targets: any mix-up of channels or pixels shows.
pub fn colour_frame(side: usize) -> Vec<u8> {
    (0..side * side)
        .flat_map(|i| {
            let (x, y) = (i % side, i / side);
            [(x * 255 / side) as u8, (y * 255 / side) as u8, if (x / 8 + y / 8) % 2 == 0 { 230 } else { 20 }, 255]
        })
        .collect()
}

/// Side of the reference scenario's images.
pub const REFERENCE_SIDE: usize = 16;

/// Learner settings of the reference scenario.
pub fn reference_config() -> LearnerConfig {
    LearnerConfig {
        head: HeadKind::Concepts,
        batch_size: 8,
        memory: 24,
        seed: 11,
        learning_rate: 3e-3,
        ..LearnerConfig::new(StudentConfig::tiny_cnn(1, REFERENCE_SIDE))
    }
}

/// Teaches the three classes one after another (8 examples, `steps` steps each) on `device` and returns every
/// step's loss: the numbers every backend must reproduce.
pub async fn reference_run(device: Device, steps: usize) -> Result<Vec<f32>> {
    let mut learner = Learner::new(reference_config(), concepts(), device)?;
    let mut rng = StdRng::seed_from_u64(5);
    let mut losses = Vec::new();
    for (c, name) in NAMES[..3].iter().enumerate() {
        let class = learner.add_class(name)?;
        for _ in 0..8 {
            let pixels = image(c, REFERENCE_SIDE, &mut rng);
            learner
                .add_example(class, ImageView::new(REFERENCE_SIDE, REFERENCE_SIDE, PixelFormat::Gray8, &pixels)?)
                .await?;
        }
        losses.extend(learner.train(steps).await?.losses);
    }
    Ok(losses)
}
