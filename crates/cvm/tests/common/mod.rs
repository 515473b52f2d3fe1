//! Shared fixtures: a tiny concept space and three visually separable synthetic classes.

#![allow(dead_code)]

use std::sync::Arc;

use cvm::burn::tensor::Device;
use cvm::{BlobDtype, ConceptBlob, ConceptSpace, HeadKind, ImageView, Learner, LearnerConfig, PixelFormat, StudentConfig};
use rand::{RngExt, SeedableRng, rngs::StdRng};

pub const SIDE: usize = 16;
pub const NAMES: [&str; 4] = ["cat", "dog", "truck", "coffee mug"];

/// Four concepts in 8 dims; rows are distinct but not orthogonal.
pub fn concepts() -> Arc<ConceptSpace> {
    let embeddings = vec![
        1.0, 0.2, 0.0, 0.1, 0.0, 0.0, 0.3, 0.0, //
        0.7, 0.8, 0.1, 0.0, 0.0, 0.2, 0.0, 0.0, //
        -0.3, 0.0, 1.0, 0.0, 0.4, 0.0, 0.0, 0.1, //
        0.0, -0.2, 0.1, 1.0, 0.0, 0.5, 0.0, 0.0,
    ];
    let blob = ConceptBlob { names: NAMES.iter().map(|s| s.to_string()).collect(), embeddings, dim: 8, ..Default::default() };
    Arc::new(ConceptSpace::from_bytes(&blob.to_bytes(BlobDtype::F32).unwrap()).unwrap())
}

/// A grey 16×16 image of class `c`: 0 horizontal stripes, 1 vertical stripes, 2 a bright square; with noise
/// and a random phase.
pub fn image(c: usize, rng: &mut StdRng) -> Vec<u8> {
    let phase = rng.random_range(0..4);
    let (cx, cy) = (rng.random_range(4..12), rng.random_range(4..12));
    (0..SIDE * SIDE)
        .map(|i| {
            let (x, y) = (i % SIDE, i / SIDE);
            let on = match c {
                0 => (y + phase) % 4 < 2,
                1 => (x + phase) % 4 < 2,
                _ => x.abs_diff(cx) < 3 && y.abs_diff(cy) < 3,
            };
            let noise: i32 = rng.random_range(-30..30);
            ((if on { 200 } else { 40 }) + noise).clamp(0, 255) as u8
        })
        .collect()
}

pub fn view(pixels: &[u8]) -> ImageView<'_> {
    ImageView::new(SIDE, SIDE, PixelFormat::Gray8, pixels).unwrap()
}

pub fn config(head: HeadKind) -> LearnerConfig {
    LearnerConfig { head, batch_size: 16, memory: 60, seed: 7, learning_rate: 3e-3, ..LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE)) }
}

pub fn device() -> Device {
    Device::flex().autodiff()
}

/// Teaches classes 0, 1, 2 one after another (`examples` each, `steps` per class).
pub fn teach(learner: &mut Learner, examples: usize, steps: usize, seed: u64) -> Vec<cvm::TrainReport> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..3)
        .map(|c| {
            let class = learner.add_class(NAMES[c]).unwrap();
            for _ in 0..examples {
                learner.add_example(class, view(&image(c, &mut rng))).unwrap();
            }
            pollster::block_on(learner.train(steps)).unwrap()
        })
        .collect()
}

/// Accuracy of `learner` on `n` fresh images per class.
pub fn accuracy(learner: &mut Learner, n: usize, seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let images: Vec<(usize, Vec<u8>)> = (0..3).flat_map(|c| (0..n).map(move |_| c)).map(|c| (c, image(c, &mut rng))).collect();
    let views: Vec<ImageView> = images.iter().map(|(_, p)| view(p)).collect();
    let predictions = pollster::block_on(learner.predict_batch(&views)).unwrap();
    let correct = predictions.iter().zip(&images).filter(|(p, (c, _))| p.top() == Some(*c)).count();
    correct as f64 / images.len() as f64
}
