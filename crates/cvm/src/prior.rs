//! The grounded prior: what the pretrained trunk already knows, placed in the concept space before the first
//! example.
//!
//! The trunk's ImageNet classifier names 1000 classes, and each class has a concept-vocabulary entry (its
//! WordNet synset's first lemma, kept in the trunk blob). An input's prior concept vector is the mean of
//! those classes' anchors weighted by the classifier's probabilities (ConSE, Norouzi et al., ICLR 2014), so a
//! photo of a strawberry lands near "strawberry" — and near "fruit" and "raspberry" — with no example taught.
//! The adapter's output is added to it: its projection starts at zero, so a fresh learner maps exactly onto
//! the prior, and training learns corrections for the classes taught. A trunk blob that names its classes
//! records this recipe as its `concept_prior` ([`PRIOR_RECIPE`]); a blob made for another is refused by name.

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::softmax;

use crate::concepts::ConceptSpace;
use crate::error::{CvmError, Result};
use crate::trunk::Trunk;

/// The prior this core computes, as a trunk blob records it: `recipe` is checked on load, the other fields say
/// in words what the recipe is.
pub const PRIOR_RECIPE: &str = "conse-1";

/// The `concept_prior` metadata of a trunk blob that names its ImageNet classes.
pub fn recipe_metadata() -> serde_json::Value {
    serde_json::json!({
        "recipe": PRIOR_RECIPE,
        "method": "ConSE (Norouzi et al., ICLR 2014), computed at run time from this blob's classifier",
        "teacher": "softmax over the classifier's 1000 ImageNet classes (temperature 1, every class)",
        "combination": "probability-weighted mean of the classes' unit concept anchors, plus the adapter's output",
        "names": "imagenet_concepts: each class's WordNet synset's first lemma in the concept vocabulary",
    })
}

/// The ImageNet classifier (in the trunk) and the unit anchors of its classes, `[1000, d]`.
#[derive(Debug, Clone)]
pub struct ConceptPrior {
    trunk: Trunk,
    anchors: Tensor<2>,
    /// Classes whose name the concept space lacks (their anchors are zero: they add nothing).
    missing: usize,
}

impl ConceptPrior {
    /// The prior of `trunk` in `concepts`; an error if the trunk blob keeps no named classifier, or if the
    /// concept space knows fewer than half of its classes' names.
    pub fn new(trunk: &Trunk, concepts: &ConceptSpace) -> Result<Self> {
        let names = trunk.imagenet_concepts().ok_or_else(|| {
            CvmError::arg("the concept prior needs a trunk blob that keeps the ImageNet classifier and names its classes (or turn the prior off)")
        })?;
        let d = concepts.dim();
        let mut rows = vec![0.0f32; names.len() * d];
        let mut missing = 0;
        for (name, row) in names.iter().zip(rows.chunks_exact_mut(d)) {
            match concepts.lookup(name) {
                Ok(i) => row.copy_from_slice(concepts.embedding(i)),
                Err(_) => missing += 1,
            }
        }
        if 2 * missing > names.len() {
            return Err(CvmError::arg(format!(
                "the concept blob lacks {missing} of the {} ImageNet class names the prior needs: build it from the project's vocabulary",
                names.len()
            )));
        }
        let device = trunk.device();
        Ok(Self {
            trunk: trunk.clone(),
            anchors: Tensor::from_data(TensorData::new(rows, [names.len(), d]), &device),
            missing,
        })
    }

    /// ImageNet classes whose names the concept space lacks.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// Prior concept vectors `[B, d]` of trunk features `[B, 1280]` (any device; the result is on the trunk's,
    /// without autodiff, so it enters training as a constant).
    pub fn embed(&self, features: Tensor<2>) -> Tensor<2> {
        let logits =
            self.trunk.imagenet_logits(features.inner()).expect("the trunk's classifier was checked at construction");
        softmax(logits, 1).matmul(self.anchors.clone())
    }
}
