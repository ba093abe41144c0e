//! The losses of the four recipes, as scalar tensors (means over every element).

use burn::tensor::activation::log_sigmoid;
use burn::tensor::Tensor;

/// Binary cross-entropy on logits against an all-`real` or all-fake target (vanilla GAN loss;
/// PyTorch's `BCEWithLogitsLoss`), computed stably from `log_sigmoid`.
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, real: bool) -> Tensor<1> {
    if real {
        log_sigmoid(logits).neg().mean()
    } else {
        (logits.clone() - log_sigmoid(logits)).mean()
    }
}

/// Least-squares GAN loss (CycleGAN, U-GAT-IT): mean squared distance to 1 or 0.
pub fn least_squares<const D: usize>(prediction: Tensor<D>, real: bool) -> Tensor<1> {
    let target = if real { 1.0 } else { 0.0 };
    prediction.sub_scalar(target).powi_scalar(2).mean()
}

pub fn l1<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).abs().mean()
}

pub fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// The value of a scalar loss.
pub fn value(loss: &Tensor<1>) -> f64 {
    loss.clone()
        .into_data()
        .convert::<f32>()
        .as_slice::<f32>()
        .expect("f32 loss")[0] as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn t(values: Vec<f32>) -> Tensor<1> {
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), &Device::flex())
    }

    #[test]
    fn bce_matches_its_definition() {
        // -log(sigmoid(2)) = 0.126928, -log(1 - sigmoid(-1)) = 0.313262.
        assert!((value(&bce_with_logits(t(vec![2.0]), true)) - 0.126928).abs() < 1e-5);
        assert!((value(&bce_with_logits(t(vec![-1.0]), false)) - 0.313262).abs() < 1e-5);
        // Large logits stay finite.
        assert!(value(&bce_with_logits(t(vec![-200.0]), true)).is_finite());
    }

    #[test]
    fn pixel_losses_are_means() {
        assert_eq!(value(&l1(t(vec![1.0, -1.0]), t(vec![0.0, 0.0]))), 1.0);
        assert_eq!(value(&mse(t(vec![2.0, 0.0]), t(vec![0.0, 0.0]))), 2.0);
        assert_eq!(value(&least_squares(t(vec![0.5, 0.5]), true)), 0.25);
    }
}
