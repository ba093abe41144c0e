//! The PatchGAN discriminator of Pix2Pix and CycleGAN (junyanz's `NLayerDiscriminator`): real
//! or fake for every 70x70 patch (with 3 layers). With BatchNorm (Pix2Pix) the normalised
//! convolutions have no bias; with InstanceNorm (CycleGAN, not affine) they do.

use crate::engine::activation::leaky_relu;
use crate::engine::{conv, norm};
use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, BatchNormConfig, InstanceNorm, InstanceNormConfig};
use burn::tensor::{Device, Tensor};

use crate::nn::conv2d;

/// The normalisation layer of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    Batch,
    /// Instance normalisation without learned scale and shift (PyTorch's default).
    Instance,
}

/// A normalisation layer of either kind.
#[derive(Module, Debug)]
pub struct NormLayer {
    batch: Option<BatchNorm>,
    instance: Option<InstanceNorm>,
}

impl NormLayer {
    pub fn new(norm: Norm, channels: usize, device: &Device) -> NormLayer {
        match norm {
            Norm::Batch => NormLayer {
                batch: Some(BatchNormConfig::new(channels).init(device)),
                instance: None,
            },
            Norm::Instance => NormLayer {
                batch: None,
                instance: Some(
                    InstanceNormConfig::new(channels)
                        .with_affine(false)
                        .init(device),
                ),
            },
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match (&self.batch, &self.instance) {
            (Some(b), _) => norm::batch_norm(b, x),
            (None, Some(i)) => norm::instance_norm(i, x),
            (None, None) => x,
        }
    }
}

/// One stage of the PatchGAN: 4x4 convolution, optional normalisation, LeakyReLU(0.2) unless last.
#[derive(Module, Debug)]
pub struct PatchStage {
    conv: Conv2d,
    norm: Option<NormLayer>,
}

/// The PatchGAN discriminator (70x70 receptive field with 3 layers) on `[input, output]`.
#[derive(Module, Debug)]
pub struct PatchGan {
    stages: Vec<PatchStage>,
}

impl PatchGan {
    /// junyanz's `NLayerDiscriminator(input_nc, ndf, n_layers, norm_layer)`.
    pub fn new(
        input_channels: usize,
        filters: usize,
        layers: usize,
        norm: Norm,
        device: &Device,
    ) -> PatchGan {
        let bias = norm == Norm::Instance;
        let conv = |i: usize, o: usize, stride: usize, bias: bool| {
            conv2d(device, [i, o], [4, 4], stride, [1, 1], bias)
        };
        let width = |n: usize| filters * (1 << n.min(3));
        let mut stages = vec![PatchStage {
            conv: conv(input_channels, filters, 2, true),
            norm: None,
        }];
        for n in 1..=layers {
            let stride = if n < layers { 2 } else { 1 };
            stages.push(PatchStage {
                conv: conv(width(n - 1), width(n), stride, bias),
                norm: Some(NormLayer::new(norm, width(n), device)),
            });
        }
        stages.push(PatchStage {
            conv: conv(width(layers), 1, 1, true),
            norm: None,
        });
        PatchGan { stages }
    }

    /// Real/fake logits per patch.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let last = self.stages.len() - 1;
        let mut h = x;
        for (i, stage) in self.stages.iter().enumerate() {
            h = conv::forward(&stage.conv, h);
            if let Some(norm) = &stage.norm {
                h = norm.forward(h);
            }
            if i < last {
                h = leaky_relu(h, 0.2);
            }
        }
        h
    }
}
