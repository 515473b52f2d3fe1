//! Heads and losses: the CVM objective (cosine logits against fixed anchors) and the linear-head baseline.
//!
//! CVM: `z = normalize(student(x))`, logits `s · <z, t_c>` over the classes seen so far, cross-entropy, plus an
//! optional mapping term `λ · (1 − <z, t_y>)` pulling `z` onto its own anchor. No weights grow with classes.
//! Baseline: logits `W z + b` over the classes seen so far, from a linear head whose columns grow with classes.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use burn::module::Param;
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

/// L2-normalises the rows of `[B, d]`.
pub fn normalize_rows(z: Tensor<2>) -> Tensor<2> {
    let norm = z.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
    z / norm
}

/// Mean cross-entropy of `[B, K]` logits against `[B]` class indices.
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let picked = log_softmax(logits, 1).gather(1, targets.unsqueeze_dim(1));
    picked.mean().neg()
}

/// The CVM loss for raw student outputs `z_raw [B, d]`, unit anchors `[K, d]`, targets `[B]`.
/// Returns `(loss, logits)`.
pub fn cvm_loss(z_raw: Tensor<2>, anchors: Tensor<2>, targets: Tensor<1, Int>, scale: f32, mapping_weight: f32) -> (Tensor<1>, Tensor<2>) {
    let z = normalize_rows(z_raw);
    let cosines = z.clone().matmul(anchors.clone().transpose());
    let logits = cosines.clone().mul_scalar(scale);
    let mut loss = cross_entropy(logits.clone(), targets.clone());
    if mapping_weight != 0.0 {
        let own = cosines.gather(1, targets.unsqueeze_dim(1));
        loss = loss + own.neg().add_scalar(1.0).mean().mul_scalar(mapping_weight);
    }
    (loss, logits)
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
        Self { weight: Param::from_tensor(Tensor::zeros([dim, capacity], device)), bias: Param::from_tensor(Tensor::zeros([capacity], device)) }
    }

    pub fn capacity(&self) -> usize {
        self.bias.dims()[0]
    }

    /// Logits of the first `classes` classes.
    pub fn forward(&self, z: Tensor<2>, classes: usize) -> Tensor<2> {
        let [dim, _] = self.weight.dims();
        let w = self.weight.val().slice([0..dim, 0..classes]);
        let b = self.bias.val().slice([0..classes]);
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
        let weight = Tensor::cat(vec![self.weight.val().detach(), Tensor::zeros([dim, capacity - old], &device)], 1);
        let bias = Tensor::cat(vec![self.bias.val().detach(), Tensor::zeros([capacity - old], &device)], 0);
        Self { weight: Param::from_tensor(weight), bias: Param::from_tensor(bias) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

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

    #[test]
    fn cvm_loss_matches_hand_computation() {
        let d = device();
        // z_raw = (3, 0) normalises to (1, 0); anchors e1, e2; scale 2 → logits (2, 0).
        let z = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 0.0], [1, 2]), &d);
        let anchors = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [2, 2]), &d);
        let target = |c: i64| Tensor::<1, Int>::from_data(TensorData::new(vec![c], [1]), &d);
        let (loss, logits) = cvm_loss(z.clone(), anchors.clone(), target(0), 2.0, 0.0);
        assert!((scalar(loss) - (1.0f32 + (-2.0f32).exp()).ln()).abs() < 1e-6);
        assert_eq!(logits.into_data().try_to_vec::<f32>().unwrap(), vec![2.0, 0.0]);
        // Target 1 with mapping weight 0.5: CE = log(1 + e^2), mapping = 0.5 · (1 − 0).
        let (loss, _) = cvm_loss(z, anchors, target(1), 2.0, 0.5);
        assert!((scalar(loss) - ((1.0f32 + 2.0f32.exp()).ln() + 0.5)).abs() < 1e-5);
    }

    #[test]
    fn cvm_gradient_matches_finite_differences() {
        let z0 = vec![0.3f32, -1.2, 0.7, 0.1];
        let anchors = vec![0.6f32, 0.0, 0.8, 0.0, 0.0, 1.0, 0.0, 0.0, -0.5, 0.5, 0.5, 0.5];
        let loss_of = |z: Tensor<2>| {
            let dev = z.device();
            let anchors = Tensor::<2>::from_data(TensorData::new(anchors.clone(), [3, 4]), &dev);
            let target = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64], [1]), &dev);
            cvm_loss(z, anchors, target, 5.0, 0.3).0
        };
        let tracked = device().autodiff();
        let z = Tensor::<2>::from_data(TensorData::new(z0.clone(), [1, 4]), &tracked).require_grad();
        let grads = loss_of(z.clone()).backward();
        let analytic = z.grad(&grads).expect("gradient").into_data().try_to_vec::<f32>().unwrap();
        let h = 1e-2f32;
        for i in 0..4 {
            let at = |delta: f32| {
                let mut v = z0.clone();
                v[i] += delta;
                scalar(loss_of(Tensor::from_data(TensorData::new(v, [1, 4]), &device())))
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!((numeric - analytic[i]).abs() < 2e-3 + 1e-2 * numeric.abs(), "dim {i}: numeric {numeric}, analytic {}", analytic[i]);
        }
    }

    #[test]
    fn linear_head_grows_and_keeps_columns() {
        let d = device();
        let head = LinearHead::new(3, 2, &d);
        let head = LinearHead { weight: Param::from_tensor(Tensor::ones([3, 2], &d)), ..head };
        let grown = head.grown(3);
        assert_eq!(grown.capacity(), 4);
        let z = Tensor::<2>::ones([1, 3], &d);
        assert_eq!(grown.forward(z, 3).into_data().try_to_vec::<f32>().unwrap(), vec![3.0, 3.0, 0.0]);
    }
}
