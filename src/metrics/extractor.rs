//! Feature extractors for FID and KID on image folders.
//!
//! The standard FID space is Inception v3 pool3 with pytorch-fid's weights. Without those
//! weights heist uses `random_conv`: a fixed network of three 3x3 stride-2 convolutions
//! (32, 64, 128 channels, ReLU) with He-uniform weights drawn from a seed, whose channel means
//! and standard deviations make a 256-d feature. Distances in that space are reported as
//! `FD-random_conv`, never as FID.
//!
//! Images are resized to the network's input with bilinear interpolation, `align_corners =
//! False`, no antialiasing (PyTorch's `F.interpolate(mode="bilinear")`, as pytorch-fid does),
//! after mapping 8-bit values to [-1, 1]; grayscale images are repeated to three channels.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::features::FeatureMatrix;
use super::image::{self, Image};
use super::inception;
use super::MetricError;
use crate::rng::Rng;

/// A feature space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Extractor {
    /// pytorch-fid's Inception v3 (pool3, 2048-d) with weights from this file: FID proper.
    InceptionV3 {
        weights: PathBuf,
    },
    RandomConv {
        seed: u64,
    },
}

/// Images per forward pass of Inception v3.
const INCEPTION_BATCH: usize = 8;

impl Extractor {
    /// How distances in this space are named: `FID` only for Inception v3.
    pub fn distance_name(&self) -> &'static str {
        match self {
            Extractor::InceptionV3 { .. } => "FID",
            Extractor::RandomConv { .. } => "FD-random_conv",
        }
    }

    pub fn dimension(&self) -> usize {
        match self {
            Extractor::InceptionV3 { .. } => inception::FEATURES,
            Extractor::RandomConv { .. } => {
                2 * RANDOM_CONV_CHANNELS[RANDOM_CONV_CHANNELS.len() - 1]
            }
        }
    }

    /// Features of every image of a folder, rows in file-name order.
    pub fn extract_folder(&self, dir: &Path) -> Result<FeatureMatrix, MetricError> {
        let files = image::list_images(dir)?;
        let paths: Vec<&PathBuf> = files.values().collect();
        let images: Vec<Image> = paths
            .par_iter()
            .map(|p| image::load(p).map(|l| l.image))
            .collect::<Result<_, _>>()?;
        self.extract(&images, dir)
    }

    /// Features of images in memory, one row each; `source` names them in messages.
    pub fn extract(&self, images: &[Image], source: &Path) -> Result<FeatureMatrix, MetricError> {
        let data: Vec<f64> = match self {
            Extractor::RandomConv { seed } => {
                let network = RandomConv::new(*seed);
                let rows: Vec<Vec<f64>> = images.par_iter().map(|i| network.features(i)).collect();
                rows.concat()
            }
            Extractor::InceptionV3 { weights } => {
                let device = burn::tensor::Device::flex();
                let model = inception::FidInception::new(&device)
                    .load(weights)
                    .map_err(|reason| MetricError::Unreadable {
                        path: weights.clone(),
                        reason,
                    })?;
                images
                    .chunks(INCEPTION_BATCH)
                    .flat_map(|batch| inception_features(&model, batch, &device))
                    .collect()
            }
        };
        Ok(FeatureMatrix {
            rows: images.len(),
            cols: self.dimension(),
            data,
            source: source.to_path_buf(),
        })
    }
}

/// pool3 features of a batch of images, row after row.
pub fn inception_features(
    model: &inception::FidInception,
    images: &[Image],
    device: &burn::tensor::Device,
) -> Vec<f64> {
    let size = inception::INPUT_SIZE;
    let pixels: Vec<f32> = images
        .iter()
        .flat_map(|image| resize_bilinear(&to_network_input(image), size, size).data)
        .collect();
    let input = burn::tensor::Tensor::<4>::from_data(
        burn::tensor::TensorData::new(pixels, [images.len(), 3, size, size]),
        device,
    );
    let output = model.forward(input).into_data();
    output
        .as_slice::<f32>()
        .expect("the network computes in f32")
        .iter()
        .map(|v| *v as f64)
        .collect()
}

/// Input side of the random-convolution network.
const RANDOM_CONV_SIZE: usize = 64;
const RANDOM_CONV_CHANNELS: [usize; 4] = [3, 32, 64, 128];

/// A plane stack: `data[c * h * w + y * w + x]`.
#[derive(Debug, Clone)]
struct Tensor3 {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<f32>,
}

/// Bilinear resize with `align_corners = False` and no antialiasing (PyTorch's convention).
fn resize_bilinear(input: &Tensor3, height: usize, width: usize) -> Tensor3 {
    let source_index = |dst: usize, in_len: usize, out_len: usize| -> (usize, usize, f32) {
        let scale = in_len as f32 / out_len as f32;
        let src = ((dst as f32 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(in_len - 1);
        let i1 = (i0 + 1).min(in_len - 1);
        (i0, i1, src - i0 as f32)
    };
    let xs: Vec<_> = (0..width)
        .map(|x| source_index(x, input.width, width))
        .collect();
    let ys: Vec<_> = (0..height)
        .map(|y| source_index(y, input.height, height))
        .collect();
    let mut data = Vec::with_capacity(input.channels * height * width);
    for c in 0..input.channels {
        let plane =
            &input.data[c * input.height * input.width..(c + 1) * input.height * input.width];
        for &(y0, y1, ly) in &ys {
            for &(x0, x1, lx) in &xs {
                let at = |y: usize, x: usize| plane[y * input.width + x];
                let top = at(y0, x0) * (1.0 - lx) + at(y0, x1) * lx;
                let bottom = at(y1, x0) * (1.0 - lx) + at(y1, x1) * lx;
                data.push(top * (1.0 - ly) + bottom * ly);
            }
        }
    }
    Tensor3 {
        channels: input.channels,
        height,
        width,
        data,
    }
}

/// 8-bit planes to three channels in [-1, 1].
fn to_network_input(image: &Image) -> Tensor3 {
    let planes: Vec<&Vec<f64>> = if image.channels() == 1 {
        vec![&image.planes[0]; 3]
    } else {
        image.planes.iter().collect()
    };
    Tensor3 {
        channels: 3,
        height: image.height,
        width: image.width,
        data: planes
            .iter()
            .flat_map(|p| p.iter().map(|v| (*v / 127.5 - 1.0) as f32))
            .collect(),
    }
}

/// The `random_conv` network: weights `[layer][out][in][3][3]`.
struct RandomConv {
    layers: Vec<Vec<f32>>,
}

impl RandomConv {
    fn new(seed: u64) -> RandomConv {
        let mut rng = Rng::new(seed ^ 0x6865_6973_7421); // "heist!"
        let layers = RANDOM_CONV_CHANNELS
            .windows(2)
            .map(|w| {
                let fan_in = (w[0] * 9) as f32;
                let bound = (6.0 / fan_in).sqrt();
                (0..w[1] * w[0] * 9)
                    .map(|_| rng.range(-1.0, 1.0) as f32 * bound)
                    .collect()
            })
            .collect();
        RandomConv { layers }
    }

    fn features(&self, image: &Image) -> Vec<f64> {
        let mut x = resize_bilinear(&to_network_input(image), RANDOM_CONV_SIZE, RANDOM_CONV_SIZE);
        for (layer, weights) in self.layers.iter().enumerate() {
            x = conv3x3_stride2_relu(&x, weights, RANDOM_CONV_CHANNELS[layer + 1]);
        }
        let area = (x.height * x.width) as f64;
        let mut means = Vec::with_capacity(x.channels);
        let mut sds = Vec::with_capacity(x.channels);
        for plane in x.data.chunks_exact(x.height * x.width) {
            let mean = plane.iter().map(|v| *v as f64).sum::<f64>() / area;
            let var = plane
                .iter()
                .map(|v| (*v as f64 - mean).powi(2))
                .sum::<f64>()
                / area;
            means.push(mean);
            sds.push(var.sqrt());
        }
        means.extend(sds);
        means
    }
}

/// 3x3 convolution, stride 2, zero padding 1, no bias, then ReLU.
fn conv3x3_stride2_relu(input: &Tensor3, weights: &[f32], out_channels: usize) -> Tensor3 {
    let (h, w) = (input.height.div_ceil(2), input.width.div_ceil(2));
    let plane = input.height * input.width;
    // The nine shifted, strided views of every input channel (zero outside the image), so
    // that the sums below run over contiguous memory. Each output is still accumulated in
    // the order channel by channel, tap by tap.
    let mut columns = vec![0.0f32; input.channels * 9 * h * w];
    for i in 0..input.channels {
        let src = &input.data[i * plane..(i + 1) * plane];
        for ky in 0..3 {
            for kx in 0..3 {
                let col = &mut columns[(i * 9 + ky * 3 + kx) * h * w..][..h * w];
                for oy in 0..h {
                    let y = (2 * oy + ky) as isize - 1;
                    if y < 0 || y >= input.height as isize {
                        continue;
                    }
                    for ox in 0..w {
                        let x = (2 * ox + kx) as isize - 1;
                        if x >= 0 && x < input.width as isize {
                            col[oy * w + ox] = src[y as usize * input.width + x as usize];
                        }
                    }
                }
            }
        }
    }
    let mut data = vec![0.0f32; out_channels * h * w];
    let mut acc = vec![0.0f32; h * w];
    for (o, out) in data.chunks_exact_mut(h * w).enumerate() {
        for i in 0..input.channels {
            let k = &weights[(o * input.channels + i) * 9..][..9];
            acc.iter_mut().for_each(|a| *a = 0.0);
            for (t, &kt) in k.iter().enumerate() {
                let col = &columns[(i * 9 + t) * h * w..][..h * w];
                for (a, &c) in acc.iter_mut().zip(col) {
                    *a += kt * c;
                }
            }
            for (o, a) in out.iter_mut().zip(&acc) {
                *o += a;
            }
        }
        out.iter_mut().for_each(|v| *v = v.max(0.0));
    }
    Tensor3 {
        channels: out_channels,
        height: h,
        width: w,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_resize_keeps_constants_and_halves_exactly() {
        let input = Tensor3 {
            channels: 1,
            height: 2,
            width: 4,
            data: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        };
        // Halving with align_corners = False averages neighbours: PyTorch gives [[2.5, 4.5]].
        let half = resize_bilinear(&input, 1, 2);
        assert_eq!(half.data, vec![2.5, 4.5]);
    }

    #[test]
    fn random_conv_features_depend_only_on_the_seed() {
        let image = Image {
            width: 20,
            height: 12,
            planes: vec![(0..240).map(|v| (v % 256) as f64).collect(); 3],
        };
        let a = RandomConv::new(7).features(&image);
        let b = RandomConv::new(7).features(&image);
        let c = RandomConv::new(8).features(&image);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 256);
    }
}
