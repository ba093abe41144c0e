//! U-GAT-IT (Kim et al. 2020) as its official PyTorch code builds it: a ResNet encoder, the
//! class-activation-map (CAM) attention module, residual blocks with adaptive layer-instance
//! normalisation (AdaLIN) whose scale and shift come from fully connected layers (on the whole
//! feature map, or on its average in the light variant), nearest-neighbour up-sampling with
//! LIN; and discriminators with CAM and spectral normalisation, a global (`global_layers`,
//! 7 in the paper) and a local one (`local_layers`, 5).

use crate::engine::activation::{leaky_relu, relu, tanh};
use crate::engine::{conv, norm};
use burn::module::{Module, Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{InstanceNorm, InstanceNormConfig, Linear, LinearConfig};
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor};

use crate::engine::padding::reflect;
use crate::nn::conv2d;
use crate::sema::program::Ugatit;

/// Tensors that start at fixed values rather than random ones (AdaLIN's and LIN's rho, LIN's
/// scale and shift).
pub const CONSTANTS: &[&str] = &["rho", "lin_gamma", "lin_beta"];

const EPS: f64 = 1e-5;

/// Instance and layer statistics of `x` (unbiased variances, as `torch.var`).
fn instance_and_layer(x: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    let [b, c, h, w] = x.dims();
    let flat = x.clone().reshape([b, c, h * w]);
    let (in_var, in_mean) = (flat.clone().var(2), flat.mean_dim(2));
    let out_in = (x.clone() - in_mean.reshape([b, c, 1, 1]))
        / in_var.reshape([b, c, 1, 1]).add_scalar(EPS).sqrt();
    let flat = x.clone().reshape([b, c * h * w]);
    let (ln_var, ln_mean) = (flat.clone().var(1), flat.mean_dim(1));
    let out_ln =
        (x - ln_mean.reshape([b, 1, 1, 1])) / ln_var.reshape([b, 1, 1, 1]).add_scalar(EPS).sqrt();
    (out_in, out_ln)
}

fn mix(rho: &Param<Tensor<4>>, out_in: Tensor<4>, out_ln: Tensor<4>) -> Tensor<4> {
    let rho = rho.val();
    out_in * rho.clone() + out_ln * rho.neg().add_scalar(1.0)
}

/// Learned mix of instance and layer normalisation with a constant learned scale and shift.
#[derive(Module, Debug)]
pub struct Lin {
    rho: Param<Tensor<4>>,
    lin_gamma: Param<Tensor<4>>,
    lin_beta: Param<Tensor<4>>,
}

impl Lin {
    fn new(channels: usize, device: &Device) -> Lin {
        Lin {
            rho: Param::from_tensor(Tensor::zeros([1, channels, 1, 1], device)),
            lin_gamma: Param::from_tensor(Tensor::ones([1, channels, 1, 1], device)),
            lin_beta: Param::from_tensor(Tensor::zeros([1, channels, 1, 1], device)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let (out_in, out_ln) = instance_and_layer(x);
        mix(&self.rho, out_in, out_ln) * self.lin_gamma.val() + self.lin_beta.val()
    }
}

/// A residual block whose normalisations take their scale and shift from the CAM features.
#[derive(Module, Debug)]
pub struct AdaLinBlock {
    conv1: Conv2d,
    rho1: Param<Tensor<4>>,
    conv2: Conv2d,
    rho2: Param<Tensor<4>>,
}

impl AdaLinBlock {
    fn new(channels: usize, device: &Device) -> AdaLinBlock {
        let rho = || Param::from_tensor(Tensor::full([1, channels, 1, 1], 0.9, device));
        AdaLinBlock {
            conv1: conv2d(device, [channels, channels], [3, 3], 1, [0, 0], false),
            rho1: rho(),
            conv2: conv2d(device, [channels, channels], [3, 3], 1, [0, 0], false),
            rho2: rho(),
        }
    }

    fn forward(&self, x: Tensor<4>, gamma: Tensor<4>, beta: Tensor<4>) -> Tensor<4> {
        let ada = |h: Tensor<4>, rho: &Param<Tensor<4>>| {
            let (out_in, out_ln) = instance_and_layer(h);
            mix(rho, out_in, out_ln) * gamma.clone() + beta.clone()
        };
        let h = relu(ada(
            conv::forward(&self.conv1, reflect(x.clone(), 1)),
            &self.rho1,
        ));
        x + ada(conv::forward(&self.conv2, reflect(h, 1)), &self.rho2)
    }
}

/// Encoder residual block: reflection padding, convolutions without bias, instance norm.
#[derive(Module, Debug)]
pub struct EncoderBlock {
    conv1: Conv2d,
    conv2: Conv2d,
    norm: InstanceNorm,
}

/// The U-GAT-IT generator.
#[derive(Module, Debug)]
pub struct UgatitGenerator {
    stem: Conv2d,
    down: Vec<Conv2d>,
    norms: Vec<InstanceNorm>,
    encoder: Vec<EncoderBlock>,
    gap_fc: Linear,
    gmp_fc: Linear,
    conv1x1: Conv2d,
    fc: Vec<Linear>,
    gamma: Linear,
    beta: Linear,
    decoder: Vec<AdaLinBlock>,
    up: Vec<Conv2d>,
    up_norms: Vec<Lin>,
    head: Conv2d,
    light: bool,
}

fn linear(device: &Device, i: usize, o: usize, bias: bool) -> Linear {
    LinearConfig::new(i, o).with_bias(bias).init(device)
}

/// CAM attention: features weighted by the average- and max-pooling classifiers' weights,
/// fused by a 1x1 convolution; returns (features, CAM logits `[batch, 2]`, heatmap).
fn cam(
    x: Tensor<4>,
    gap_weight: Tensor<2>,
    gmp_weight: Tensor<2>,
    gap_logit_weight: Tensor<2>,
    gmp_logit_weight: Tensor<2>,
    conv1x1: &Conv2d,
    leaky: bool,
) -> (Tensor<4>, Tensor<2>, Tensor<4>) {
    let [b, c, _, _] = x.dims();
    let gap = adaptive_avg_pool2d(x.clone(), [1, 1]).reshape([b, c]);
    let gmp = x.clone().max_dims(&[2, 3]).reshape([b, c]);
    let cam_logit = Tensor::cat(
        vec![gap.matmul(gap_logit_weight), gmp.matmul(gmp_logit_weight)],
        1,
    );
    let weighted = Tensor::cat(
        vec![
            x.clone() * gap_weight.reshape([1, c, 1, 1]),
            x * gmp_weight.reshape([1, c, 1, 1]),
        ],
        1,
    );
    let h = conv::forward(conv1x1, weighted);
    let h = if leaky { leaky_relu(h, 0.2) } else { relu(h) };
    let heatmap = h.clone().sum_dim(1);
    (h, cam_logit, heatmap)
}

impl UgatitGenerator {
    pub fn new(config: &Ugatit, device: &Device) -> UgatitGenerator {
        let f = config.filters as usize;
        let c = 4 * f;
        let norm = |ch| InstanceNormConfig::new(ch).with_affine(false).init(device);
        let fc_input = if config.light {
            c
        } else {
            (config.image_size as usize / 4).pow(2) * c
        };
        UgatitGenerator {
            stem: conv2d(device, [3, f], [7, 7], 1, [0, 0], false),
            down: vec![
                conv2d(device, [f, 2 * f], [3, 3], 2, [0, 0], false),
                conv2d(device, [2 * f, c], [3, 3], 2, [0, 0], false),
            ],
            norms: vec![norm(f), norm(2 * f), norm(c)],
            encoder: (0..config.residual_blocks)
                .map(|_| EncoderBlock {
                    conv1: conv2d(device, [c, c], [3, 3], 1, [0, 0], false),
                    conv2: conv2d(device, [c, c], [3, 3], 1, [0, 0], false),
                    norm: norm(c),
                })
                .collect(),
            gap_fc: linear(device, c, 1, false),
            gmp_fc: linear(device, c, 1, false),
            conv1x1: conv2d(device, [2 * c, c], [1, 1], 1, [0, 0], true),
            fc: vec![
                linear(device, fc_input, c, false),
                linear(device, c, c, false),
            ],
            gamma: linear(device, c, c, false),
            beta: linear(device, c, c, false),
            decoder: (0..config.residual_blocks)
                .map(|_| AdaLinBlock::new(c, device))
                .collect(),
            up: vec![
                conv2d(device, [c, 2 * f], [3, 3], 1, [0, 0], false),
                conv2d(device, [2 * f, f], [3, 3], 1, [0, 0], false),
            ],
            up_norms: vec![Lin::new(2 * f, device), Lin::new(f, device)],
            head: conv2d(device, [f, 3], [7, 7], 1, [0, 0], false),
            light: config.light,
        }
    }

    /// The translation in [-1, 1], the CAM logits `[batch, 2]` and the attention heatmap.
    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<2>, Tensor<4>) {
        let mut h = relu(norm::instance_norm(
            &self.norms[0],
            conv::forward(&self.stem, reflect(x, 3)),
        ));
        for (layer, norm) in self.down.iter().zip(&self.norms[1..]) {
            h = relu(norm::instance_norm(
                norm,
                conv::forward(layer, reflect(h, 1)),
            ));
        }
        for block in &self.encoder {
            let r = relu(norm::instance_norm(
                &block.norm,
                conv::forward(&block.conv1, reflect(h.clone(), 1)),
            ));
            h = h + norm::instance_norm(&block.norm, conv::forward(&block.conv2, reflect(r, 1)));
        }
        let (gw, mw) = (self.gap_fc.weight.val(), self.gmp_fc.weight.val());
        let (h, cam_logit, heatmap) = cam(h, gw.clone(), mw.clone(), gw, mw, &self.conv1x1, false);
        let [b, c, _, _] = h.dims();
        let mut v = if self.light {
            adaptive_avg_pool2d(h.clone(), [1, 1]).reshape([b, c])
        } else {
            h.clone().reshape([b as i64, -1])
        };
        for fc in &self.fc {
            v = burn::tensor::activation::relu(fc.forward(v));
        }
        let gamma = self.gamma.forward(v.clone()).reshape([b, c, 1, 1]);
        let beta = self.beta.forward(v).reshape([b, c, 1, 1]);
        let mut h = h;
        for block in &self.decoder {
            h = block.forward(h, gamma.clone(), beta.clone());
        }
        for (layer, norm) in self.up.iter().zip(&self.up_norms) {
            h = relu(norm.forward(conv::forward(layer, reflect(nearest_x2(h), 1))));
        }
        (
            tanh(conv::forward(&self.head, reflect(h, 3))),
            cam_logit,
            heatmap,
        )
    }

    /// Keeps every rho in [0, 1] (the official `RhoClipper`, applied after each step).
    pub fn clip_rho(self) -> UgatitGenerator {
        let clip = |p: Param<Tensor<4>>| p.map(|t| t.clamp(0.0, 1.0).detach().require_grad());
        UgatitGenerator {
            decoder: self
                .decoder
                .into_iter()
                .map(|b| AdaLinBlock {
                    rho1: clip(b.rho1),
                    rho2: clip(b.rho2),
                    ..b
                })
                .collect(),
            up_norms: self
                .up_norms
                .into_iter()
                .map(|n| Lin {
                    rho: clip(n.rho),
                    ..n
                })
                .collect(),
            ..self
        }
    }
}

/// Nearest-neighbour up-sampling by 2.
fn nearest_x2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1])
        .repeat_dim(3, 2)
        .repeat_dim(5, 2)
        .reshape([b, c, 2 * h, 2 * w])
}

/// A weight divided by its largest singular value, estimated by one power iteration per
/// forward pass from a persistent vector `u` (PyTorch's `spectral_norm`).
#[derive(Module, Debug)]
pub struct SpectralWeight<const D: usize> {
    weight: Param<Tensor<D>>,
    u: RunningState<Tensor<2>>,
    /// burn's linear weights are `[in, out]`, PyTorch's (and this estimate's) `[out, in]`.
    transposed: bool,
}

impl<const D: usize> SpectralWeight<D> {
    fn new(weight: Param<Tensor<D>>, outputs: usize, transposed: bool, device: &Device) -> Self {
        SpectralWeight {
            weight,
            u: RunningState::new(Tensor::random(
                [1, outputs],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
            transposed,
        }
    }

    fn matrix(w: Tensor<D>, transposed: bool) -> Tensor<2> {
        let dims = w.dims();
        if transposed {
            w.reshape([dims[0] as i64, -1]).transpose()
        } else {
            w.reshape([dims[0] as i64, -1])
        }
    }

    /// The normalised weight (training: also advances `u`).
    fn normalised(&self) -> Tensor<D> {
        let w = self.weight.val();
        let m = Self::matrix(w.clone(), self.transposed);
        let fixed = m.clone().detach();
        let normalise = |t: Tensor<2>| {
            let norm = t
                .clone()
                .powi_scalar(2)
                .sum()
                .sqrt()
                .add_scalar(1e-12)
                .reshape([1, 1]);
            t / norm
        };
        let u = self.u.value_sync().to_device(&w.device()).detach();
        let v = normalise(u.matmul(fixed.clone()));
        let u = normalise(v.clone().matmul(fixed.transpose()));
        if w.device().is_autodiff() {
            self.u.update(u.clone().detach());
        }
        let sigma = (u.detach().matmul(m) * v.detach()).sum();
        let dims = w.dims();
        w / sigma.reshape([1; D]).expand(dims)
    }
}

/// A spectrally normalised convolution with explicit stride and no padding (the official
/// discriminator pads by reflection first).
#[derive(Module, Debug)]
pub struct SnConv {
    weight: SpectralWeight<4>,
    bias: Option<Param<Tensor<1>>>,
    stride: usize,
}

impl SnConv {
    fn new(device: &Device, i: usize, o: usize, stride: usize, bias: bool) -> SnConv {
        let conv = conv2d(device, [i, o], [4, 4], stride, [0, 0], bias);
        SnConv {
            weight: SpectralWeight::new(conv.weight, o, false, device),
            bias: conv.bias,
            stride,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv::conv2d(
            x,
            self.weight.normalised(),
            self.bias.as_ref().map(|b| b.val()),
            ConvOptions::new([self.stride; 2], [0, 0], [1, 1], 1),
        )
    }
}

/// A U-GAT-IT discriminator: real/fake logits per patch, CAM logits and heatmap.
#[derive(Module, Debug)]
pub struct UgatitDiscriminator {
    convs: Vec<SnConv>,
    gap_fc: SpectralWeight<2>,
    gmp_fc: SpectralWeight<2>,
    conv1x1: Conv2d,
    out: SnConv,
}

impl UgatitDiscriminator {
    /// The official `Discriminator(input_nc, ndf, n_layers)`: `layers - 2` stride-2 stages,
    /// one stride-1 stage, CAM, a final 4x4 convolution.
    pub fn new(filters: u32, layers: u32, device: &Device) -> UgatitDiscriminator {
        let f = filters as usize;
        let layers = layers as usize;
        let mut convs = vec![SnConv::new(device, 3, f, 2, true)];
        for i in 1..layers - 2 {
            let mult = 1 << (i - 1);
            convs.push(SnConv::new(device, f * mult, f * mult * 2, 2, true));
        }
        let mult = 1 << (layers - 3);
        convs.push(SnConv::new(device, f * mult, f * mult * 2, 1, true));
        let c = f * mult * 2;
        let fc = |device: &Device| {
            SpectralWeight::new(linear(device, c, 1, false).weight, 1, true, device)
        };
        UgatitDiscriminator {
            convs,
            gap_fc: fc(device),
            gmp_fc: fc(device),
            conv1x1: conv2d(device, [2 * c, c], [1, 1], 1, [0, 0], true),
            out: SnConv::new(device, c, 1, 1, false),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> (Tensor<4>, Tensor<2>, Tensor<4>) {
        let mut h = x;
        for conv in &self.convs {
            h = leaky_relu(conv.forward(reflect(h, 1)), 0.2);
        }
        // The official code weights the features with the raw classifier weights
        // (`parameters()[0]` is `weight_orig` under spectral_norm) and classifies with the
        // normalised ones.
        let (h, cam_logit, heatmap) = cam(
            h,
            self.gap_fc.weight.val(),
            self.gmp_fc.weight.val(),
            self.gap_fc.normalised(),
            self.gmp_fc.normalised(),
            &self.conv1x1,
            true,
        );
        (self.out.forward(reflect(h, 1)), cam_logit, heatmap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::models::trainable_parameters;

    fn config(size: u32, filters: u32, blocks: u32, light: bool) -> Ugatit {
        Ugatit {
            image_size: size,
            filters,
            residual_blocks: blocks,
            light,
            discriminator_filters: filters,
            global_layers: 7,
            local_layers: 5,
        }
    }

    #[test]
    fn the_generator_keeps_the_shape_and_gives_cam_logits() {
        let device = Device::flex();
        let g = UgatitGenerator::new(&config(32, 8, 2, true), &device);
        let x = Tensor::<4>::random([2, 3, 32, 32], Distribution::Uniform(-1.0, 1.0), &device);
        let (y, cam, heatmap) = g.forward(x);
        assert_eq!(y.dims(), [2, 3, 32, 32]);
        assert_eq!(cam.dims(), [2, 2]);
        assert_eq!(heatmap.dims(), [2, 1, 8, 8]);
    }

    #[test]
    fn discriminators_give_patch_and_cam_logits() {
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 3, 64, 64], Distribution::Uniform(-1.0, 1.0), &device);
        let local = UgatitDiscriminator::new(8, 5, &device);
        let (out, cam, _) = local.forward(x.clone());
        // 64 -> 32 -> 16 -> 8 (stride 2) -> 7 (stride 1) -> 6 (final 4x4).
        assert_eq!(out.dims(), [1, 1, 6, 6]);
        assert_eq!(cam.dims(), [1, 2]);
    }

    #[test]
    fn parameter_counts_match_the_official_networks() {
        // The official networks (znxlwm/UGATIT-pytorch) as bench/train_twin.py builds them,
        // ngf = ndf = 64, 4 blocks: AdaLIN/LIN rho, gamma, beta included; spectral_norm's u
        // vectors are buffers, not parameters.
        let device = Device::flex();
        let count = |size, light| {
            trainable_parameters(&UgatitGenerator::new(&config(size, 64, 4, light), &device))
        };
        assert_eq!(count(256, true), 10_589_888);
        assert_eq!(count(64, false), 27_301_568);
        assert_eq!(
            trainable_parameters(&UgatitDiscriminator::new(64, 5, &device)),
            3_290_560
        );
        assert_eq!(
            trainable_parameters(&UgatitDiscriminator::new(64, 7, &device)),
            53_130_176
        );
    }
}
