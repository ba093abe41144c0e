//! Pix2Pix (Isola et al. 2017) as the junyanz reference implementation builds it: a U-Net
//! generator with skip connections (BatchNorm, so convolutions without bias; dropout in the
//! three innermost-but-one levels); its discriminator is the BatchNorm PatchGAN
//! ([`super::patchgan`]) on (input, output) pairs.

use crate::engine::activation::{leaky_relu, relu, tanh};
use crate::engine::{conv, norm};
use burn::module::Module;
use burn::nn::conv::{Conv2d, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, TensorData};

use crate::nn::conv2d;
use crate::rng::Rng;
use crate::sema::program::Pix2Pix;

/// One level of the U-Net: a 4x4 stride-2 convolution down, a transposed one back up.
#[derive(Module, Debug)]
pub struct UnetLevel {
    down: Conv2d,
    down_norm: Option<BatchNorm>,
    up: ConvTranspose2d,
    up_norm: Option<BatchNorm>,
    dropout: Option<Dropout>,
}

/// The U-Net generator: `levels[0]` is the outermost level, the last one the innermost.
#[derive(Module, Debug)]
pub struct UnetGenerator {
    levels: Vec<UnetLevel>,
}

fn up_conv(device: &Device, input: usize, output: usize, bias: bool) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([input, output], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .with_bias(bias)
        .init(device)
}

impl UnetGenerator {
    /// junyanz's `UnetGenerator(input_nc, output_nc, num_downs = depth, ngf = filters)`.
    pub fn new(config: &Pix2Pix, channels: usize, device: &Device) -> UnetGenerator {
        let f = config.generator_filters as usize;
        let depth = config.unet_depth as usize;
        // Filters (outer, inner) per level from the outside in: ngf, 2ngf, 4ngf, then 8ngf.
        let inner = |level: usize| f * (1 << level.min(3));
        let outer = |level: usize| {
            if level == 0 {
                channels
            } else {
                inner(level - 1)
            }
        };
        let levels = (0..depth)
            .map(|level| {
                let (outer_nc, inner_nc) = (outer(level), inner(level));
                let outermost = level == 0;
                let innermost = level == depth - 1;
                let down_input = if outermost { channels } else { outer_nc };
                UnetLevel {
                    // junyanz: no bias on any down-convolution (BatchNorm follows or the block is
                    // outermost); only the outermost up-convolution has one.
                    down: conv2d(device, [down_input, inner_nc], [4, 4], 2, [1, 1], false),
                    down_norm: (!outermost && !innermost)
                        .then(|| BatchNormConfig::new(inner_nc).init(device)),
                    up: up_conv(
                        device,
                        if innermost { inner_nc } else { 2 * inner_nc },
                        outer_nc,
                        outermost,
                    ),
                    up_norm: (!outermost).then(|| BatchNormConfig::new(outer_nc).init(device)),
                    // junyanz: dropout in the num_downs - 5 levels just outside the innermost.
                    dropout: (config.dropout && !innermost && level >= 4 && level < depth - 1)
                        .then(|| DropoutConfig::new(0.5).init()),
                }
            })
            .collect();
        UnetGenerator { levels }
    }

    /// `[batch, channels, size, size]` in [-1, 1] to the same shape in [-1, 1], without dropout.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.level(0, x, None)
    }

    /// The training forward pass: dropout masks drawn from `rng`, not from burn's global
    /// random state, so that training is a function of its seed.
    pub fn forward_train(&self, x: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        self.level(0, x, Some(rng))
    }

    fn level(&self, index: usize, x: Tensor<4>, mut rng: Option<&mut Rng>) -> Tensor<4> {
        let l = &self.levels[index];
        let mut h = if index == 0 {
            x.clone()
        } else {
            leaky_relu(x.clone(), 0.2)
        };
        h = conv::forward(&l.down, h);
        if let Some(norm) = &l.down_norm {
            h = norm::batch_norm(norm, h);
        }
        if index + 1 < self.levels.len() {
            h = self.level(index + 1, h, rng.as_deref_mut());
        }
        h = conv::forward_transposed(&l.up, relu(h));
        if index == 0 {
            return tanh(h);
        }
        if let Some(norm) = &l.up_norm {
            h = norm::batch_norm(norm, h);
        }
        if let (Some(dropout), Some(rng)) = (&l.dropout, rng) {
            h = dropout_mask(h, dropout.prob, rng);
        }
        Tensor::cat(vec![x, h], 1)
    }
}

/// Inverted dropout with a mask from `rng`.
fn dropout_mask(h: Tensor<4>, prob: f64, rng: &mut Rng) -> Tensor<4> {
    let dims = h.dims();
    let keep = 1.0 - prob;
    let mask: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| {
            if rng.chance(keep) {
                (1.0 / keep) as f32
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_data(TensorData::new(mask, dims), &h.device());
    h * mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::models::patchgan::{Norm, PatchGan};
    use crate::engine::models::trainable_parameters;
    use burn::tensor::Distribution;

    fn config(size: u32, filters: u32, depth: u32) -> Pix2Pix {
        Pix2Pix {
            image_size: size,
            generator_filters: filters,
            unet_depth: depth,
            discriminator_filters: filters,
            discriminator_layers: 3,
            dropout: true,
        }
    }

    #[test]
    fn the_unet_keeps_the_image_shape_and_range() {
        let device = Device::flex();
        let g = UnetGenerator::new(&config(32, 8, 5), 3, &device);
        let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device);
        let y = g.forward(x);
        assert_eq!(y.dims(), [2, 3, 32, 32]);
        let values = y.into_data();
        assert!(
            values
                .as_slice::<f32>()
                .unwrap()
                .iter()
                .all(|v| v.abs() <= 1.0),
            "tanh output"
        );
    }

    #[test]
    fn the_patchgan_gives_a_grid_of_logits() {
        let device = Device::flex();
        let d = PatchGan::new(6, 8, 3, Norm::Batch, &device);
        let x = Tensor::<4>::random([1, 6, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
        // 64 -> 32 -> 16 -> 8 -> 7 -> 6 with 4x4 kernels, padding 1.
        assert_eq!(d.forward(x).dims(), [1, 1, 6, 6]);
    }

    #[test]
    fn parameter_counts_match_the_reference_networks() {
        // junyanz's networks built in PyTorch count 54,413,955 parameters for unet_256
        // (ngf 64; its logs round to 54.414 M) and 2,768,705 for the basic PatchGAN on 6
        // channels (ndf 64, 3 layers).
        let device = Device::flex();
        let g = UnetGenerator::new(&config(256, 64, 8), 3, &device);
        assert_eq!(trainable_parameters(&g), 54_413_955);
        let d = PatchGan::new(6, 64, 3, Norm::Batch, &device);
        assert_eq!(trainable_parameters(&d), 2_768_705);
    }
}
