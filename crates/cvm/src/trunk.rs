//! The frozen pretrained trunk of the adapter student, and the trunk blob that carries it (`format = "cvm-student"`,
//! the name it was first released under), loaded and validated into a [`Trunk`],
//! which runs on the CPU through [`crate::efficientnet_cpu`] and elsewhere (WebGPU) through burn's layers.
//!
//! Metadata names the `preset` (`efficientnet-lite0`), the input `size` it runs at, and whether the ImageNet
//! `classifier` is kept; with it, `imagenet_concepts` may name each of its 1000 classes by a concept-vocabulary
//! entry (the grounded prior of [`crate::prior`] needs both), and `concept_prior` then records the prior's recipe,
//! which must be the one this core computes ([`crate::prior::PRIOR_RECIPE`]). Tensors are the trunk's parameters by path (see
//! [`crate::efficientnet`]), f32, f16 or int8 with a scale per output channel (see [`crate::blob`]), BatchNorm already
//! folded in. Version 2 added int8.

use std::collections::HashMap;
use std::sync::Arc;

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::TensorData;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::blob::{self, BlobDtype, Metadata, OwnedTensor};
use crate::efficientnet::{EfficientNetLite0, FEATURES, IMAGENET_CLASSES};
use crate::efficientnet_cpu::CpuEfficientNet;
use crate::error::{CvmError, Result};
use crate::image::{InputSpec, Normalization};
use crate::params::{self, HostParam};
use crate::prior::PRIOR_RECIPE;

pub const TRUNK_BLOB_FORMAT: &str = "cvm-student";
pub const TRUNK_BLOB_VERSION: u32 = 2;
pub const PRESET_EFFICIENTNET_LITE0: &str = "efficientnet-lite0";
const WHAT: &str = "trunk blob";
const HEADER_CAP: u64 = 1 << 20;

/// A frozen, pretrained feature extractor, ready on a device.
#[derive(Clone)]
pub struct Trunk {
    network: Network,
    /// EfficientNet-Lite0's ImageNet classifier over the pooled features, if the blob kept it.
    classifier: Option<Linear>,
    input: InputSpec,
    /// The vocabulary name of each ImageNet class of the classifier, if the blob names them.
    imagenet_concepts: Option<Arc<[String]>>,
    checksum: [u8; 32],
    device: Device,
}

/// What computes the features: the CPU kernels of [`crate::efficientnet_cpu`] on the CPU, burn's layers elsewhere.
#[derive(Clone)]
enum Network {
    Cpu(Arc<CpuEfficientNet>),
    Burn(Box<EfficientNetLite0>),
}

impl std::fmt::Debug for Trunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trunk")
            .field("preset", &PRESET_EFFICIENTNET_LITE0)
            .field("input", &self.input)
            .finish_non_exhaustive()
    }
}

impl Trunk {
    /// Loads and validates a trunk blob onto `device` (autodiff is stripped: the trunk never trains).
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let parsed = blob::parse(bytes, WHAT, TRUNK_BLOB_FORMAT, TRUNK_BLOB_VERSION, HEADER_CAP)?;
        let preset = parsed.str_field("preset")?;
        if preset != PRESET_EFFICIENTNET_LITE0 {
            return Err(CvmError::blob(
                WHAT,
                format!("preset \"{preset}\" is not supported (expected \"{PRESET_EFFICIENTNET_LITE0}\")"),
            ));
        }
        let size: usize = parsed.field("size")?;
        let input = InputSpec { channels: 3, size, normalization: Normalization::Centered };
        input.validate().map_err(|e| CvmError::blob(WHAT, e.to_string()))?;
        let classifier: bool = parsed.field("classifier")?;
        let imagenet_concepts = match parsed.metadata.get("imagenet_concepts") {
            None => None,
            Some(names) => {
                let names: Vec<String> = serde_json::from_value(names.clone())
                    .map_err(|_| CvmError::blob(WHAT, "imagenet_concepts must be a list of names"))?;
                if !classifier || names.len() != IMAGENET_CLASSES || names.iter().any(|n| n.trim().is_empty()) {
                    return Err(CvmError::blob(
                        WHAT,
                        format!(
                            "imagenet_concepts must name the classifier's {IMAGENET_CLASSES} classes (classifier kept: {classifier}, names: {})",
                            names.len()
                        ),
                    ));
                }
                let recipe = parsed.metadata.get("concept_prior").and_then(|p| p.get("recipe")).and_then(Value::as_str);
                if recipe != Some(PRIOR_RECIPE) {
                    return Err(CvmError::blob(
                        WHAT,
                        format!(
                            "its concept prior's recipe is {}, and this version computes \"{PRIOR_RECIPE}\": use the trunk blob built with this version (`cargo xtask assets`)",
                            recipe.map_or("not recorded".to_string(), |r| format!("\"{r}\""))
                        ),
                    ));
                }
                Some(names.into())
            }
        };
        let mut tensors = HashMap::new();
        for name in parsed.names() {
            let tensor = parsed.floats(&name)?;
            tensors.insert(name, tensor);
        }
        let device = device.clone().inner();
        let (model, classifier) =
            params::import(EfficientNetLite0::new(classifier, &device), &tensors, WHAT)?.split_classifier();
        let network = if device == Device::flex() {
            Network::Cpu(Arc::new(CpuEfficientNet::new(&tensors, size)?))
        } else {
            Network::Burn(Box::new(model))
        };
        Ok(Self { network, classifier, input, imagenet_concepts, checksum: Sha256::digest(bytes).into(), device })
    }

    pub fn input(&self) -> InputSpec {
        self.input
    }

    /// The device the trunk runs on (without autodiff).
    pub fn device(&self) -> Device {
        self.device.clone()
    }

    /// SHA-256 of the blob this trunk came from.
    pub fn checksum(&self) -> [u8; 32] {
        self.checksum
    }

    /// `n` preprocessed images (`n × 3·S·S`, as the [`Preprocessor`](crate::Preprocessor) writes them) →
    /// `[n, 1280]` features on the trunk's device.
    pub fn features(&self, images: &[f32], n: usize) -> Tensor<2> {
        let s = self.input.size;
        match &self.network {
            Network::Cpu(cpu) => {
                Tensor::from_data(TensorData::new(cpu.features(images, n), [n, FEATURES]), &self.device)
            }
            Network::Burn(model) => {
                model.features(Tensor::from_data(TensorData::new(images.to_vec(), [n, 3, s, s]), &self.device))
            }
        }
    }

    /// The concept-vocabulary name of each ImageNet class, if the blob keeps the classifier and names them.
    pub fn imagenet_concepts(&self) -> Option<&[String]> {
        self.imagenet_concepts.as_deref()
    }

    /// ImageNet logits `[B, 1000]` of trunk features `[B, 1280]`, if the blob kept the classifier.
    pub fn imagenet_logits(&self, features: Tensor<2>) -> Option<Tensor<2>> {
        self.classifier.as_ref().map(|c| c.forward(features))
    }

    /// ImageNet class probabilities of `n` preprocessed images (`n × 1000`), if the blob kept the classifier.
    pub async fn imagenet(&self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        let logits = self
            .imagenet_logits(self.features(images, n))
            .ok_or_else(|| CvmError::NotReady("this trunk blob has no ImageNet classifier".into()))?;
        let probabilities = burn::tensor::activation::softmax(logits, 1);
        params::to_f32(probabilities.into_data_async().await?)
    }
}

/// Writes a trunk blob from host parameters (the converter's output).
/// `imagenet_concepts`, with the classifier, names its classes in the concept vocabulary.
pub fn write_trunk_blob(
    params: &[HostParam],
    size: usize,
    classifier: bool,
    dtype: BlobDtype,
    imagenet_concepts: Option<&[String]>,
    mut metadata: Metadata,
) -> Result<Vec<u8>> {
    if let Some(names) = imagenet_concepts {
        if !classifier || names.len() != IMAGENET_CLASSES {
            return Err(CvmError::arg(format!(
                "ImageNet concept names need the classifier and {IMAGENET_CLASSES} names, got {}",
                names.len()
            )));
        }
        metadata.insert("imagenet_concepts".into(), Value::from(names.to_vec()));
        metadata.insert("concept_prior".into(), crate::prior::recipe_metadata());
    }
    metadata.insert("preset".into(), Value::from(PRESET_EFFICIENTNET_LITE0));
    metadata.insert("size".into(), Value::from(size));
    metadata.insert("classifier".into(), Value::from(classifier));
    let tensors: Vec<OwnedTensor> =
        params.iter().flat_map(|p| OwnedTensor::float(p.path.clone(), p.shape.clone(), &p.values, dtype)).collect();
    blob::write(TRUNK_BLOB_FORMAT, dtype.version(TRUNK_BLOB_VERSION), metadata, &tensors)
}
