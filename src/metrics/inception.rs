//! Inception v3 as pytorch-fid uses it for FID: torchvision's network with the `FIDInceptionA`,
//! `FIDInceptionC`, `FIDInceptionE_1` and `FIDInceptionE_2` blocks (average pools that ignore
//! padding; a max pool in the last block), truncated after the pool3 average (2048 features).
//!
//! Field names mirror the PyTorch state dict (`Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn
//! .running_var`, ...) so that pytorch-fid's weights file loads without renaming; BatchNorm's
//! `weight`/`bias` become burn's `gamma`/`beta` through burn-store's PyTorch adapter.

#![allow(non_snake_case)] // The field names are the PyTorch state-dict keys.

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

use crate::nn::conv2d;

/// Convolution without bias, BatchNorm (eps 0.001), ReLU.
#[derive(Module, Debug)]
pub struct BasicConv2d {
    conv: Conv2d,
    bn: BatchNorm,
}

impl BasicConv2d {
    fn new(
        device: &Device,
        channels: [usize; 2],
        kernel: [usize; 2],
        stride: usize,
        padding: [usize; 2],
    ) -> Self {
        let conv = conv2d(device, channels, kernel, stride, padding, false);
        let bn = BatchNormConfig::new(channels[1])
            .with_epsilon(1e-3)
            .init(device);
        BasicConv2d { conv, bn }
    }

    fn square(
        device: &Device,
        input: usize,
        output: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        Self::new(
            device,
            [input, output],
            [kernel, kernel],
            stride,
            [padding, padding],
        )
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.bn.forward(self.conv.forward(x)))
    }
}

/// 3x3 average pool, stride 1, padding 1, padding not counted (pytorch-fid's blocks).
fn fid_avg_pool() -> AvgPool2d {
    AvgPool2dConfig::new([3, 3])
        .with_strides([1, 1])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_count_include_pad(false)
        .init()
}

fn max_pool(stride: usize, padding: usize) -> MaxPool2d {
    MaxPool2dConfig::new([3, 3])
        .with_strides([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .init()
}

/// `FIDInceptionA` (Mixed_5b/c/d).
#[derive(Module, Debug)]
pub struct InceptionA {
    branch1x1: BasicConv2d,
    branch5x5_1: BasicConv2d,
    branch5x5_2: BasicConv2d,
    branch3x3dbl_1: BasicConv2d,
    branch3x3dbl_2: BasicConv2d,
    branch3x3dbl_3: BasicConv2d,
    branch_pool: BasicConv2d,
    pool: AvgPool2d,
}

impl InceptionA {
    fn new(d: &Device, input: usize, pool_features: usize) -> Self {
        InceptionA {
            branch1x1: BasicConv2d::square(d, input, 64, 1, 1, 0),
            branch5x5_1: BasicConv2d::square(d, input, 48, 1, 1, 0),
            branch5x5_2: BasicConv2d::square(d, 48, 64, 5, 1, 2),
            branch3x3dbl_1: BasicConv2d::square(d, input, 64, 1, 1, 0),
            branch3x3dbl_2: BasicConv2d::square(d, 64, 96, 3, 1, 1),
            branch3x3dbl_3: BasicConv2d::square(d, 96, 96, 3, 1, 1),
            branch_pool: BasicConv2d::square(d, input, pool_features, 1, 1, 0),
            pool: fid_avg_pool(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b5 = self
            .branch5x5_2
            .forward(self.branch5x5_1.forward(x.clone()));
        let b3 = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        let bp = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![b1, b5, b3, bp], 1)
    }
}

/// `InceptionB` (Mixed_6a): grid reduction 35 -> 17.
#[derive(Module, Debug)]
pub struct InceptionB {
    branch3x3: BasicConv2d,
    branch3x3dbl_1: BasicConv2d,
    branch3x3dbl_2: BasicConv2d,
    branch3x3dbl_3: BasicConv2d,
    pool: MaxPool2d,
}

impl InceptionB {
    fn new(d: &Device, input: usize) -> Self {
        InceptionB {
            branch3x3: BasicConv2d::square(d, input, 384, 3, 2, 0),
            branch3x3dbl_1: BasicConv2d::square(d, input, 64, 1, 1, 0),
            branch3x3dbl_2: BasicConv2d::square(d, 64, 96, 3, 1, 1),
            branch3x3dbl_3: BasicConv2d::square(d, 96, 96, 3, 2, 0),
            pool: max_pool(2, 0),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self.branch3x3.forward(x.clone());
        let bd = self.branch3x3dbl_3.forward(
            self.branch3x3dbl_2
                .forward(self.branch3x3dbl_1.forward(x.clone())),
        );
        Tensor::cat(vec![b3, bd, self.pool.forward(x)], 1)
    }
}

/// `FIDInceptionC` (Mixed_6b..6e): factorised 7x7 convolutions.
#[derive(Module, Debug)]
pub struct InceptionC {
    branch1x1: BasicConv2d,
    branch7x7_1: BasicConv2d,
    branch7x7_2: BasicConv2d,
    branch7x7_3: BasicConv2d,
    branch7x7dbl_1: BasicConv2d,
    branch7x7dbl_2: BasicConv2d,
    branch7x7dbl_3: BasicConv2d,
    branch7x7dbl_4: BasicConv2d,
    branch7x7dbl_5: BasicConv2d,
    branch_pool: BasicConv2d,
    pool: AvgPool2d,
}

impl InceptionC {
    fn new(d: &Device, input: usize, c7: usize) -> Self {
        let row = |i, o| BasicConv2d::new(d, [i, o], [1, 7], 1, [0, 3]);
        let column = |i, o| BasicConv2d::new(d, [i, o], [7, 1], 1, [3, 0]);
        InceptionC {
            branch1x1: BasicConv2d::square(d, input, 192, 1, 1, 0),
            branch7x7_1: BasicConv2d::square(d, input, c7, 1, 1, 0),
            branch7x7_2: row(c7, c7),
            branch7x7_3: column(c7, 192),
            branch7x7dbl_1: BasicConv2d::square(d, input, c7, 1, 1, 0),
            branch7x7dbl_2: column(c7, c7),
            branch7x7dbl_3: row(c7, c7),
            branch7x7dbl_4: column(c7, c7),
            branch7x7dbl_5: row(c7, 192),
            branch_pool: BasicConv2d::square(d, input, 192, 1, 1, 0),
            pool: fid_avg_pool(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b7 = self.branch7x7_3.forward(
            self.branch7x7_2
                .forward(self.branch7x7_1.forward(x.clone())),
        );
        let mut bd = self.branch7x7dbl_1.forward(x.clone());
        for conv in [
            &self.branch7x7dbl_2,
            &self.branch7x7dbl_3,
            &self.branch7x7dbl_4,
            &self.branch7x7dbl_5,
        ] {
            bd = conv.forward(bd);
        }
        let bp = self.branch_pool.forward(self.pool.forward(x));
        Tensor::cat(vec![b1, b7, bd, bp], 1)
    }
}

/// `InceptionD` (Mixed_7a): grid reduction 17 -> 8.
#[derive(Module, Debug)]
pub struct InceptionD {
    branch3x3_1: BasicConv2d,
    branch3x3_2: BasicConv2d,
    branch7x7x3_1: BasicConv2d,
    branch7x7x3_2: BasicConv2d,
    branch7x7x3_3: BasicConv2d,
    branch7x7x3_4: BasicConv2d,
    pool: MaxPool2d,
}

impl InceptionD {
    fn new(d: &Device, input: usize) -> Self {
        InceptionD {
            branch3x3_1: BasicConv2d::square(d, input, 192, 1, 1, 0),
            branch3x3_2: BasicConv2d::square(d, 192, 320, 3, 2, 0),
            branch7x7x3_1: BasicConv2d::square(d, input, 192, 1, 1, 0),
            branch7x7x3_2: BasicConv2d::new(d, [192, 192], [1, 7], 1, [0, 3]),
            branch7x7x3_3: BasicConv2d::new(d, [192, 192], [7, 1], 1, [3, 0]),
            branch7x7x3_4: BasicConv2d::square(d, 192, 192, 3, 2, 0),
            pool: max_pool(2, 0),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b3 = self
            .branch3x3_2
            .forward(self.branch3x3_1.forward(x.clone()));
        let mut b7 = self.branch7x7x3_1.forward(x.clone());
        for conv in [
            &self.branch7x7x3_2,
            &self.branch7x7x3_3,
            &self.branch7x7x3_4,
        ] {
            b7 = conv.forward(b7);
        }
        Tensor::cat(vec![b3, b7, self.pool.forward(x)], 1)
    }
}

/// `FIDInceptionE_1` (Mixed_7b, average pool) and `FIDInceptionE_2` (Mixed_7c, max pool).
#[derive(Module, Debug)]
pub struct InceptionE {
    branch1x1: BasicConv2d,
    branch3x3_1: BasicConv2d,
    branch3x3_2a: BasicConv2d,
    branch3x3_2b: BasicConv2d,
    branch3x3dbl_1: BasicConv2d,
    branch3x3dbl_2: BasicConv2d,
    branch3x3dbl_3a: BasicConv2d,
    branch3x3dbl_3b: BasicConv2d,
    branch_pool: BasicConv2d,
    avg: Option<AvgPool2d>,
    max: Option<MaxPool2d>,
}

impl InceptionE {
    fn new(d: &Device, input: usize, max_pool_branch: bool) -> Self {
        let row = |i, o| BasicConv2d::new(d, [i, o], [1, 3], 1, [0, 1]);
        let column = |i, o| BasicConv2d::new(d, [i, o], [3, 1], 1, [1, 0]);
        InceptionE {
            branch1x1: BasicConv2d::square(d, input, 320, 1, 1, 0),
            branch3x3_1: BasicConv2d::square(d, input, 384, 1, 1, 0),
            branch3x3_2a: row(384, 384),
            branch3x3_2b: column(384, 384),
            branch3x3dbl_1: BasicConv2d::square(d, input, 448, 1, 1, 0),
            branch3x3dbl_2: BasicConv2d::square(d, 448, 384, 3, 1, 1),
            branch3x3dbl_3a: row(384, 384),
            branch3x3dbl_3b: column(384, 384),
            branch_pool: BasicConv2d::square(d, input, 192, 1, 1, 0),
            avg: (!max_pool_branch).then(fid_avg_pool),
            max: max_pool_branch.then(|| max_pool(1, 1)),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let b1 = self.branch1x1.forward(x.clone());
        let b3 = self.branch3x3_1.forward(x.clone());
        let b3 = Tensor::cat(
            vec![
                self.branch3x3_2a.forward(b3.clone()),
                self.branch3x3_2b.forward(b3),
            ],
            1,
        );
        let bd = self
            .branch3x3dbl_2
            .forward(self.branch3x3dbl_1.forward(x.clone()));
        let bd = Tensor::cat(
            vec![
                self.branch3x3dbl_3a.forward(bd.clone()),
                self.branch3x3dbl_3b.forward(bd),
            ],
            1,
        );
        let pooled = match (&self.avg, &self.max) {
            (Some(avg), _) => avg.forward(x),
            (None, Some(max)) => max.forward(x),
            (None, None) => x,
        };
        let bp = self.branch_pool.forward(pooled);
        Tensor::cat(vec![b1, b3, bd, bp], 1)
    }
}

/// The FID Inception v3 up to pool3.
#[derive(Module, Debug)]
pub struct FidInception {
    Conv2d_1a_3x3: BasicConv2d,
    Conv2d_2a_3x3: BasicConv2d,
    Conv2d_2b_3x3: BasicConv2d,
    Conv2d_3b_1x1: BasicConv2d,
    Conv2d_4a_3x3: BasicConv2d,
    Mixed_5b: InceptionA,
    Mixed_5c: InceptionA,
    Mixed_5d: InceptionA,
    Mixed_6a: InceptionB,
    Mixed_6b: InceptionC,
    Mixed_6c: InceptionC,
    Mixed_6d: InceptionC,
    Mixed_6e: InceptionC,
    Mixed_7a: InceptionD,
    Mixed_7b: InceptionE,
    Mixed_7c: InceptionE,
    pool: MaxPool2d,
}

/// The input side pytorch-fid resizes every image to.
pub const INPUT_SIZE: usize = 299;
/// pool3 features.
pub const FEATURES: usize = 2048;

impl FidInception {
    /// The network with placeholder weights; load real ones with [`FidInception::load`].
    pub fn new(device: &Device) -> Self {
        let d = device;
        FidInception {
            Conv2d_1a_3x3: BasicConv2d::square(d, 3, 32, 3, 2, 0),
            Conv2d_2a_3x3: BasicConv2d::square(d, 32, 32, 3, 1, 0),
            Conv2d_2b_3x3: BasicConv2d::square(d, 32, 64, 3, 1, 1),
            Conv2d_3b_1x1: BasicConv2d::square(d, 64, 80, 1, 1, 0),
            Conv2d_4a_3x3: BasicConv2d::square(d, 80, 192, 3, 1, 0),
            Mixed_5b: InceptionA::new(d, 192, 32),
            Mixed_5c: InceptionA::new(d, 256, 64),
            Mixed_5d: InceptionA::new(d, 288, 64),
            Mixed_6a: InceptionB::new(d, 288),
            Mixed_6b: InceptionC::new(d, 768, 128),
            Mixed_6c: InceptionC::new(d, 768, 160),
            Mixed_6d: InceptionC::new(d, 768, 160),
            Mixed_6e: InceptionC::new(d, 768, 192),
            Mixed_7a: InceptionD::new(d, 768),
            Mixed_7b: InceptionE::new(d, 1280, false),
            Mixed_7c: InceptionE::new(d, 2048, true),
            pool: max_pool(2, 0),
        }
    }

    /// pool3 features of images already resized to 299x299 and scaled to [-1, 1]:
    /// `[batch, 3, 299, 299] -> [batch, 2048]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = self.Conv2d_1a_3x3.forward(x);
        x = self.Conv2d_2a_3x3.forward(x);
        x = self.Conv2d_2b_3x3.forward(x);
        x = self.pool.forward(x);
        x = self.Conv2d_3b_1x1.forward(x);
        x = self.Conv2d_4a_3x3.forward(x);
        x = self.pool.forward(x);
        x = self.Mixed_5b.forward(x);
        x = self.Mixed_5c.forward(x);
        x = self.Mixed_5d.forward(x);
        x = self.Mixed_6a.forward(x);
        x = self.Mixed_6b.forward(x);
        x = self.Mixed_6c.forward(x);
        x = self.Mixed_6d.forward(x);
        x = self.Mixed_6e.forward(x);
        x = self.Mixed_7a.forward(x);
        x = self.Mixed_7b.forward(x);
        x = self.Mixed_7c.forward(x);
        let [batch, channels, _, _] = x.dims();
        adaptive_avg_pool2d(x, [1, 1]).reshape([batch, channels])
    }

    /// Loads weights in PyTorch's layout: pytorch-fid's `.pth` or a `.safetensors` with the same
    /// keys. Every tensor of the network must be present with its shape.
    pub fn load(mut self, path: &Path) -> Result<Self, String> {
        let is_safetensors = path.extension().is_some_and(|e| e == "safetensors");
        let result = if is_safetensors {
            let mut store = SafetensorsStore::from_file(path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .allow_partial(true);
            self.load_from(&mut store).map_err(|e| e.to_string())?
        } else {
            let mut store = PytorchStore::from_file(path).allow_partial(true);
            self.load_from(&mut store).map_err(|e| e.to_string())?
        };
        if let Some(error) = result.errors.first() {
            return Err(format!("{error:?}"));
        }
        if let Some((missing, _)) = result.missing.first() {
            let missing = missing
                .replace(".gamma", ".weight")
                .replace(".beta", ".bias");
            return Err(format!(
                "the weights lack `{missing}` ({} of the network's {} tensors are missing): this is not pytorch-fid's Inception v3",
                result.missing.len(),
                result.missing.len() + result.applied.len()
            ));
        }
        Ok(self)
    }
}

/// Deterministic stand-in weights, a function of each tensor's PyTorch key and element index,
/// computed the same way by `bench/inception_parity.py`. They let the port be checked against
/// PyTorch without shipping 95 MB of weights; they are not for measuring anything.
pub mod formula {
    use std::path::Path;

    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
    use burn::tensor::Device;

    use super::FidInception;
    use crate::nn::{safetensors_bytes, NamedTensor};

    /// FNV-1a of the key: the tensor's seed.
    fn seed(key: &str) -> u64 {
        key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// SplitMix64's finaliser of `seed + (i + 1) * golden`, as a uniform in [0, 1).
    fn uniform(seed: u64, i: u64) -> f64 {
        let mut z = seed.wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The value of element `i` of tensor `key` with `shape`.
    pub fn value(key: &str, shape: &[usize], i: usize) -> f32 {
        let u = uniform(seed(key), i as u64);
        let v = if key.ends_with("conv.weight") {
            let fan_in: usize = shape[1..].iter().product();
            (2.0 * u - 1.0) * (6.0 / fan_in as f64).sqrt()
        } else if key.ends_with("bn.weight") || key.ends_with("bn.running_var") {
            0.5 + u
        } else {
            0.2 * (u - 0.5)
        };
        v as f32
    }

    /// Every tensor of the network in PyTorch naming, with its shape, sorted by key.
    pub fn tensors(device: &Device) -> Vec<(String, Vec<usize>)> {
        let model = FidInception::new(device);
        let mut out: Vec<(String, Vec<usize>)> = model
            .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false)
            .into_iter()
            .map(|t| (t.name.clone(), t.shape.to_vec()))
            .collect();
        out.sort();
        out
    }

    /// Writes the formula weights as a `.safetensors` file with PyTorch's keys.
    pub fn write_safetensors(path: &Path, device: &Device) -> std::io::Result<()> {
        let tensors: Vec<NamedTensor> = tensors(device)
            .into_iter()
            .map(|(name, shape)| {
                let n: usize = shape.iter().product();
                let values = (0..n).map(|e| value(&name, &shape, e)).collect();
                NamedTensor {
                    name,
                    shape,
                    values,
                }
            })
            .collect();
        std::fs::write(path, safetensors_bytes(&tensors))
    }
}
