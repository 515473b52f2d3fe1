//! EfficientNet-Lite0: the pretrained, frozen ImageNet trunk of the adapter student.
//!
//! Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6, and with a fixed stem (32) and head
//! (1280). BatchNorm is folded into the preceding convolution when the weights are converted (so every
//! convolution here has a bias), and padding is TensorFlow's "same", as the weights were trained with.
//! Parameter paths follow the converted blob: `stem`, `blocks.N.{expand,depthwise,project}`, `head`, and the
//! optional ImageNet classifier `classifier` (kept only to check the weights).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu6;

/// Width of the pooled trunk features.
pub const FEATURES: usize = 1280;
/// ImageNet classes of the optional classifier.
pub const IMAGENET_CLASSES: usize = 1000;

/// `(expansion, kernel, stride, input channels, output channels, repeats)` of the seven stages.
const STAGES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
];

/// One block's shape: `(expansion, kernel, stride, input channels, output channels)`, in order.
pub fn block_shapes() -> Vec<(usize, usize, usize, usize, usize)> {
    STAGES
        .iter()
        .flat_map(|&(e, k, s, i, o, r)| (0..r).map(move |n| if n == 0 { (e, k, s, i, o) } else { (e, k, 1, o, o) }))
        .collect()
}

fn conv(input: usize, output: usize, kernel: usize, stride: usize, groups: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([input, output], [kernel, kernel])
        .with_stride([stride, stride])
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Same)
        .init(device)
}

/// Inverted residual block without squeeze-and-excitation.
#[derive(Module, Debug)]
pub struct MbConv {
    expand: Option<Conv2d>,
    depthwise: Conv2d,
    project: Conv2d,
    residual: bool,
}

impl MbConv {
    fn new((expansion, kernel, stride, input, output): (usize, usize, usize, usize, usize), device: &Device) -> Self {
        let hidden = input * expansion;
        Self {
            expand: (expansion != 1).then(|| conv(input, hidden, 1, 1, 1, device)),
            depthwise: conv(hidden, hidden, kernel, stride, hidden, device),
            project: conv(hidden, output, 1, 1, 1, device),
            residual: stride == 1 && input == output,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x.clone();
        if let Some(expand) = &self.expand {
            h = relu6(expand.forward(h));
        }
        let h = self.project.forward(relu6(self.depthwise.forward(h)));
        if self.residual { h + x } else { h }
    }
}

#[derive(Module, Debug)]
pub struct EfficientNetLite0 {
    stem: Conv2d,
    blocks: Vec<MbConv>,
    head: Conv2d,
    classifier: Option<Linear>,
}

impl EfficientNetLite0 {
    pub fn new(with_classifier: bool, device: &Device) -> Self {
        Self {
            stem: conv(3, 32, 3, 2, 1, device),
            blocks: block_shapes().into_iter().map(|shape| MbConv::new(shape, device)).collect(),
            head: conv(320, FEATURES, 1, 1, 1, device),
            classifier: with_classifier.then(|| LinearConfig::new(FEATURES, IMAGENET_CLASSES).init(device)),
        }
    }

    /// `[B, 3, S, S]` images normalised as `(x − 127) / 128` → `[B, 1280]` pooled features.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = relu6(self.stem.forward(x));
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = relu6(self.head.forward(x));
        x.mean_dim(3).mean_dim(2).flatten(1, 3)
    }

    /// The network without its ImageNet classifier, and the classifier if it has one.
    pub fn split_classifier(mut self) -> (Self, Option<Linear>) {
        let classifier = self.classifier.take();
        (self, classifier)
    }
}
