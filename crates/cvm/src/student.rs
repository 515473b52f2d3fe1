//! Students: a vision encoder plus a linear projection into the concept space.
//!
//! Presets live in [`StudentConfig`]; each is a `#[derive(Module)]` struct, and [`Encoder`] is the enum the
//! learner trains. The adapter preset sits on a frozen pretrained trunk ([`crate::trunk::Trunk`]) whose
//! features are computed once per example and stored instead of pixels, so teaching trains only the adapter.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::error::{CvmError, Result};
use crate::image::{InputSpec, Normalization};

/// Which student to build, and its input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum StudentConfig {
    /// A small CNN trained from scratch: three 3×3 conv blocks (widths), global pooling, a hidden layer.
    TinyCnn { input: InputSpec, widths: [usize; 3], hidden: usize },
    /// A frozen pretrained trunk (weights from a trunk blob, see [`crate::trunk`]) computing `features`
    /// per image, followed by a trainable adapter: one ReLU hidden layer of width `hidden`.
    Adapter { input: InputSpec, features: usize, hidden: usize },
}

impl StudentConfig {
    /// The tiny CNN for `channels`-channel images of `size`×`size` pixels.
    pub fn tiny_cnn(channels: usize, size: usize) -> Self {
        Self::TinyCnn {
            input: InputSpec { channels, size, normalization: Normalization::UnitRange },
            widths: [16, 32, 64],
            hidden: 128,
        }
    }

    /// The adapter over a trunk taking `input` and giving `features` per image.
    pub fn adapter(input: InputSpec, features: usize) -> Self {
        Self::Adapter { input, features, hidden: 512 }
    }

    pub fn input(&self) -> &InputSpec {
        match self {
            Self::TinyCnn { input, .. } | Self::Adapter { input, .. } => input,
        }
    }

    /// Whether the student needs a pretrained trunk.
    pub fn has_trunk(&self) -> bool {
        matches!(self, Self::Adapter { .. })
    }

    /// Length of one stored sample: preprocessed pixels, or trunk features.
    pub fn sample_len(&self) -> usize {
        match self {
            Self::TinyCnn { input, .. } => input.values(),
            Self::Adapter { features, .. } => *features,
        }
    }

    /// Width of the encoder output (before the projection).
    pub fn feature_dim(&self) -> usize {
        match self {
            Self::TinyCnn { hidden, .. } | Self::Adapter { hidden, .. } => *hidden,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.input().validate()?;
        match self {
            Self::TinyCnn { widths, hidden, .. } => {
                if widths.iter().chain([hidden]).any(|&w| w == 0 || w > 1024) {
                    return Err(CvmError::arg(format!(
                        "tiny CNN widths {widths:?} / hidden {hidden} must be in 1..=1024"
                    )));
                }
            }
            Self::Adapter { features, hidden, .. } => {
                if *features == 0 || *features > 8192 || *hidden == 0 || *hidden > 4096 {
                    return Err(CvmError::arg(format!("adapter features {features} / hidden {hidden} out of range")));
                }
            }
        }
        Ok(())
    }

    pub fn init_encoder(&self, device: &Device) -> Encoder {
        match self {
            Self::TinyCnn { input, widths, hidden } => Encoder::TinyCnn(TinyCnn::new(*input, *widths, *hidden, device)),
            Self::Adapter { features, hidden, .. } => {
                Encoder::Adapter(AdapterMlp { hidden: LinearConfig::new(*features, *hidden).init(device) })
            }
        }
    }
}

/// Three conv–ReLU blocks (max-pooling after the first two), global average pooling, a ReLU hidden layer.
#[derive(Module, Debug)]
pub struct TinyCnn {
    channels: usize,
    size: usize,
    conv1: Conv2d,
    conv2: Conv2d,
    conv3: Conv2d,
    pool: MaxPool2d,
    global_pool: AdaptiveAvgPool2d,
    hidden: Linear,
}

impl TinyCnn {
    fn new(input: InputSpec, widths: [usize; 3], hidden: usize, device: &Device) -> Self {
        let conv = |i, o| Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Same).init(device);
        Self {
            channels: input.channels,
            size: input.size,
            conv1: conv(input.channels, widths[0]),
            conv2: conv(widths[0], widths[1]),
            conv3: conv(widths[1], widths[2]),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            global_pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            hidden: LinearConfig::new(widths[2], hidden).init(device),
        }
    }

    /// `[B, C·S·S]` flattened images → `[B, hidden]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let x = x.reshape([b, self.channels, self.size, self.size]);
        let x = self.pool.forward(relu(self.conv1.forward(x)));
        let x = self.pool.forward(relu(self.conv2.forward(x)));
        let x = self.global_pool.forward(relu(self.conv3.forward(x)));
        relu(self.hidden.forward(x.flatten(1, 3)))
    }
}

/// The trainable adapter over frozen trunk features.
#[derive(Module, Debug)]
pub struct AdapterMlp {
    hidden: Linear,
}

/// The trainable encoder presets.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one per learner, and burn's module derive does not see through a Box
pub enum Encoder {
    TinyCnn(TinyCnn),
    Adapter(AdapterMlp),
}

impl Encoder {
    /// `[B, sample_len]` stored samples (pixels or trunk features) → `[B, feature_dim]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::TinyCnn(m) => m.forward(x),
            Self::Adapter(m) => relu(m.hidden.forward(x)),
        }
    }
}

/// Encoder + projection: images → raw concept-space vectors (not yet normalised).
#[derive(Module, Debug)]
pub struct Student {
    pub encoder: Encoder,
    pub projection: Linear,
}

impl Student {
    pub fn new(config: &StudentConfig, concept_dim: usize, device: &Device) -> Self {
        Self {
            encoder: config.init_encoder(device),
            projection: LinearConfig::new(config.feature_dim(), concept_dim).init(device),
        }
    }

    /// `[B, sample_len]` → `[B, d]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.projection.forward(self.encoder.forward(x))
    }
}
