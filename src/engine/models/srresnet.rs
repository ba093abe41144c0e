//! SRResNet and SRGAN's discriminator (Ledig et al. 2017): a residual generator that upsamples
//! with PixelShuffle x2 steps, and a VGG-style discriminator whose convolutions double their
//! filters every other layer and halve the resolution in between.

use crate::engine::activation::{self, leaky_relu};
use crate::engine::{conv, norm};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, PRelu, PReluConfig, PixelShuffle, PixelShuffleConfig};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use crate::nn::conv2d;

/// PReLU slopes start at 0.25, not at random values.
pub const CONSTANTS: &[&str] = &["alpha"];

fn conv(device: &Device, i: usize, o: usize, k: usize, stride: usize) -> Conv2d {
    conv2d(device, [i, o], [k, k], stride, [k / 2, k / 2], true)
}

fn prelu(device: &Device) -> PRelu {
    PReluConfig::new().init(device)
}

/// conv-BN-PReLU-conv-BN with a skip.
#[derive(Module, Debug)]
pub struct SrBlock {
    conv1: Conv2d,
    norm1: BatchNorm,
    act: PRelu,
    conv2: Conv2d,
    norm2: BatchNorm,
}

/// A x2 upsampling: convolution to 4x the filters, PixelShuffle(2), PReLU.
#[derive(Module, Debug)]
pub struct Upsample {
    conv: Conv2d,
    shuffle: PixelShuffle,
    act: PRelu,
}

/// The SRResNet generator: LR in [-1, 1] to HR (`scale` times larger) in [-1, 1].
#[derive(Module, Debug)]
pub struct SrResNet {
    head: Conv2d,
    head_act: PRelu,
    blocks: Vec<SrBlock>,
    body: Conv2d,
    body_norm: BatchNorm,
    upsample: Vec<Upsample>,
    tail: Conv2d,
}

impl SrResNet {
    /// `scale` must be a power of two (2, 4, 8).
    pub fn new(filters: u32, residual_blocks: u32, scale: u32, device: &Device) -> SrResNet {
        let f = filters as usize;
        SrResNet {
            head: conv(device, 3, f, 9, 1),
            head_act: prelu(device),
            blocks: (0..residual_blocks)
                .map(|_| SrBlock {
                    conv1: conv(device, f, f, 3, 1),
                    norm1: BatchNormConfig::new(f).init(device),
                    act: prelu(device),
                    conv2: conv(device, f, f, 3, 1),
                    norm2: BatchNormConfig::new(f).init(device),
                })
                .collect(),
            body: conv(device, f, f, 3, 1),
            body_norm: BatchNormConfig::new(f).init(device),
            upsample: (0..scale.trailing_zeros())
                .map(|_| Upsample {
                    conv: conv(device, f, 4 * f, 3, 1),
                    shuffle: PixelShuffleConfig::new(2).init(),
                    act: prelu(device),
                })
                .collect(),
            tail: conv(device, f, 3, 9, 1),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = activation::prelu(&self.head_act, conv::forward(&self.head, x));
        let mut h = skip.clone();
        for b in &self.blocks {
            let r = activation::prelu(
                &b.act,
                norm::batch_norm(&b.norm1, conv::forward(&b.conv1, h.clone())),
            );
            h = h + norm::batch_norm(&b.norm2, conv::forward(&b.conv2, r));
        }
        h = norm::batch_norm(&self.body_norm, conv::forward(&self.body, h)) + skip;
        for u in &self.upsample {
            h = activation::prelu(&u.act, pixel_shuffle(&u.shuffle, conv::forward(&u.conv, h)));
        }
        activation::tanh(conv::forward(&self.tail, h))
    }
}

/// One discriminator stage: 3x3 convolution, BatchNorm (not on the first), LeakyReLU(0.2).
/// `shuffle.forward(x)`; on libtorch, libtorch's `pixel_shuffle` forward and backward.
fn pixel_shuffle(shuffle: &PixelShuffle, x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if crate::engine::torch::applies(&x) {
        use crate::engine::torch::{unary, Unary};
        return unary(x, Unary::PixelShuffle(shuffle.upscale_factor));
    }
    shuffle.forward(x)
}

#[derive(Module, Debug)]
pub struct VggStage {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

/// SRGAN's discriminator: eight 3x3 stages (f, f/2, 2f, 2f/2, 4f, 4f/2, 8f, 8f/2 where /2 is
/// stride 2), then global pooling and two 1x1 convolutions (the paper's dense 1024 and 1
/// layers, independent of the crop size).
#[derive(Module, Debug)]
pub struct VggDiscriminator {
    stages: Vec<VggStage>,
    dense: Conv2d,
    out: Conv2d,
}

impl VggDiscriminator {
    pub fn new(filters: u32, device: &Device) -> VggDiscriminator {
        let f = filters as usize;
        let mut stages = Vec::new();
        let mut input = 3;
        for i in 0..8 {
            let width = f << (i / 2);
            stages.push(VggStage {
                conv: conv(device, input, width, 3, 1 + i % 2),
                norm: (i > 0).then(|| BatchNormConfig::new(width).init(device)),
            });
            input = width;
        }
        VggDiscriminator {
            stages,
            dense: conv(device, input, 16 * f, 1, 1),
            out: conv(device, 16 * f, 1, 1, 1),
        }
    }

    /// One real/fake logit per image, `[batch, 1, 1, 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = x;
        for s in &self.stages {
            h = conv::forward(&s.conv, h);
            if let Some(n) = &s.norm {
                h = norm::batch_norm(n, h);
            }
            h = leaky_relu(h, 0.2);
        }
        let h = leaky_relu(
            conv::forward(&self.dense, adaptive_avg_pool2d(h, [1, 1])),
            0.2,
        );
        conv::forward(&self.out, h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::models::trainable_parameters;
    use burn::tensor::Distribution;

    #[test]
    fn srresnet_upscales_by_four() {
        let device = Device::flex();
        let g = SrResNet::new(8, 2, 4, &device);
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Uniform(-1.0, 1.0), &device);
        assert_eq!(g.forward(x).dims(), [2, 3, 32, 32]);
        let d = VggDiscriminator::new(8, &device);
        let y = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device);
        assert_eq!(d.forward(y).dims(), [2, 1, 1, 1]);
    }

    #[test]
    fn srresnet_has_the_papers_parameter_count() {
        // Ledig et al.'s SRResNet (64 filters, 16 blocks, x4, one PReLU slope per layer) built
        // in PyTorch by bench/train_twin.py counts 1,549,462 parameters.
        let device = Device::flex();
        assert_eq!(
            trainable_parameters(&SrResNet::new(64, 16, 4, &device)),
            1_549_462
        );
    }
}
