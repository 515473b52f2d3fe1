//! Shared fixtures: a tiny concept space and three visually separable synthetic classes.

#![allow(dead_code)]

use std::sync::Arc;

use cvm::burn::tensor::Device;
use cvm::{ConceptSpace, HeadKind, ImageView, Learner, LearnerConfig, PixelFormat, StudentConfig};
use rand::{SeedableRng, rngs::StdRng};

pub const SIDE: usize = 16;
pub use cvm::synthetic::NAMES;

pub fn concepts() -> Arc<ConceptSpace> {
    cvm::synthetic::concepts()
}

pub fn image(c: usize, rng: &mut StdRng) -> Vec<u8> {
    cvm::synthetic::image(c, SIDE, rng)
}

pub fn view(pixels: &[u8]) -> ImageView<'_> {
    ImageView::new(SIDE, SIDE, PixelFormat::Gray8, pixels).unwrap()
}

/// Small settings for the synthetic classes: CVM's objective for the anchor heads, plain ER's for the linear head.
pub fn config(head: HeadKind) -> LearnerConfig {
    let objective =
        if head == HeadKind::Linear { cvm::objective::Objective::default() } else { cvm::objective::Objective::cvm() };
    LearnerConfig {
        head,
        objective,
        batch_size: 16,
        memory: 60,
        seed: 7,
        learning_rate: 3e-3,
        ..LearnerConfig::new(StudentConfig::tiny_cnn(1, SIDE))
    }
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
            let images: Vec<Vec<u8>> = (0..examples).map(|_| image(c, &mut rng)).collect();
            let views: Vec<ImageView> = images.iter().map(|p| view(p)).collect();
            pollster::block_on(learner.add_examples(class, &views)).unwrap();
            pollster::block_on(learner.train(steps)).unwrap()
        })
        .collect()
}

/// Accuracy of `learner` on `n` fresh images per class.
pub fn accuracy(learner: &mut Learner, n: usize, seed: u64) -> f64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let images: Vec<(usize, Vec<u8>)> =
        (0..3).flat_map(|c| (0..n).map(move |_| c)).map(|c| (c, image(c, &mut rng))).collect();
    let views: Vec<ImageView> = images.iter().map(|(_, p)| view(p)).collect();
    let predictions = pollster::block_on(learner.predict_batch(&views)).unwrap();
    let correct = predictions.iter().zip(&images).filter(|(p, (c, _))| p.top() == Some(*c)).count();
    correct as f64 / images.len() as f64
}
