//! CycleGAN (Zhu et al. 2017) as the junyanz reference implementation builds it: ResNet
//! generators (reflection padding, instance normalisation without affine parameters, so every
//! convolution has a bias) and InstanceNorm PatchGAN discriminators ([`super::patchgan`]).

use crate::engine::activation::{relu, tanh};
use crate::engine::conv;
use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::tensor::{Device, Tensor};

use super::patchgan::{Norm, NormLayer};
use crate::engine::padding::reflect;
use crate::nn::conv2d;
use crate::sema::program::CycleGan;

/// `x + conv(norm(relu(conv(norm(x)))))` with reflection padding (no dropout, as CycleGAN).
#[derive(Module, Debug)]
pub struct ResidualBlock {
    conv1: Conv2d,
    norm1: NormLayer,
    conv2: Conv2d,
    norm2: NormLayer,
}

impl ResidualBlock {
    fn new(device: &Device, channels: usize) -> ResidualBlock {
        ResidualBlock {
            conv1: conv2d(device, [channels, channels], [3, 3], 1, [0, 0], true),
            norm1: NormLayer::new(Norm::Instance, channels, device),
            conv2: conv2d(device, [channels, channels], [3, 3], 1, [0, 0], true),
            norm2: NormLayer::new(Norm::Instance, channels, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = relu(
            self.norm1
                .forward(conv::forward(&self.conv1, reflect(x.clone(), 1))),
        );
        let h = self
            .norm2
            .forward(conv::forward(&self.conv2, reflect(h, 1)));
        x + h
    }
}

/// junyanz's `ResnetGenerator`: 7x7 stem, two stride-2 down-samplings, residual blocks, two
/// transposed up-samplings, 7x7 head with tanh.
#[derive(Module, Debug)]
pub struct ResnetGenerator {
    stem: Conv2d,
    stem_norm: NormLayer,
    down: Vec<Conv2d>,
    down_norms: Vec<NormLayer>,
    blocks: Vec<ResidualBlock>,
    up: Vec<ConvTranspose2d>,
    up_norms: Vec<NormLayer>,
    head: Conv2d,
}

impl ResnetGenerator {
    pub fn new(config: &CycleGan, channels: usize, device: &Device) -> ResnetGenerator {
        let f = config.generator_filters as usize;
        let norm = |c| NormLayer::new(Norm::Instance, c, device);
        ResnetGenerator {
            stem: conv2d(device, [channels, f], [7, 7], 1, [0, 0], true),
            stem_norm: norm(f),
            down: vec![
                conv2d(device, [f, 2 * f], [3, 3], 2, [1, 1], true),
                conv2d(device, [2 * f, 4 * f], [3, 3], 2, [1, 1], true),
            ],
            down_norms: vec![norm(2 * f), norm(4 * f)],
            blocks: (0..config.residual_blocks)
                .map(|_| ResidualBlock::new(device, 4 * f))
                .collect(),
            up: [(4 * f, 2 * f), (2 * f, f)]
                .into_iter()
                .map(|(i, o)| {
                    ConvTranspose2dConfig::new([i, o], [3, 3])
                        .with_stride([2, 2])
                        .with_padding([1, 1])
                        .with_padding_out([1, 1])
                        .init(device)
                })
                .collect(),
            up_norms: vec![norm(2 * f), norm(f)],
            head: conv2d(device, [f, channels], [7, 7], 1, [0, 0], true),
        }
    }

    /// `[batch, channels, size, size]` in [-1, 1] to the same shape in [-1, 1].
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = relu(
            self.stem_norm
                .forward(conv::forward(&self.stem, reflect(x, 3))),
        );
        for (down, norm) in self.down.iter().zip(&self.down_norms) {
            h = relu(norm.forward(conv::forward(down, h)));
        }
        for block in &self.blocks {
            h = block.forward(h);
        }
        for (conv, norm) in self.up.iter().zip(&self.up_norms) {
            h = relu(norm.forward(conv::forward_transposed(conv, h)));
        }
        tanh(conv::forward(&self.head, reflect(h, 3)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::models::patchgan::PatchGan;
    use crate::engine::models::trainable_parameters;
    use burn::tensor::Distribution;

    fn config(filters: u32, blocks: u32) -> CycleGan {
        CycleGan {
            image_size: 32,
            generator_filters: filters,
            residual_blocks: blocks,
            discriminator_filters: filters,
            discriminator_layers: 3,
        }
    }

    #[test]
    fn the_generator_keeps_the_image_shape() {
        let device = Device::flex();
        let g = ResnetGenerator::new(&config(8, 2), 3, &device);
        let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device);
        assert_eq!(g.forward(x).dims(), [2, 3, 32, 32]);
    }

    #[test]
    fn parameter_counts_match_the_reference_networks() {
        // junyanz's networks built in PyTorch: resnet_9blocks (ngf 64) has 11,378,179
        // parameters, the InstanceNorm PatchGAN on 3 channels (ndf 64, 3 layers) 2,764,737.
        let device = Device::flex();
        assert_eq!(
            trainable_parameters(&ResnetGenerator::new(&config(64, 9), 3, &device)),
            11_378_179
        );
        assert_eq!(
            trainable_parameters(&PatchGan::new(3, 64, 3, Norm::Instance, &device)),
            2_764_737
        );
    }
}
