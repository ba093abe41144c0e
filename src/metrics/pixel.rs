//! PSNR and SSIM between paired 8-bit images.
//!
//! - PSNR: `10 log10(255^2 / MSE)` over all pixels and channels.
//! - SSIM: Wang et al. 2004 with an 11-tap Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03,
//!   L = 255, population statistics, averaged over the region where the window fits and over
//!   channels (scikit-image with `gaussian_weights=True, use_sample_covariance=False`).
//! - Super-resolution option: the Y channel of ITU-R BT.601 (`16 + 65.481 R + 128.553 G +
//!   24.966 B`, RGB in [0, 1]) and a crop of N border pixels (BasicSR).

use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::image::{self, Image};
use super::MetricError;

/// Which pixel metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelMetric {
    Psnr,
    Ssim,
}

/// The convention options of PSNR and SSIM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PixelOptions {
    /// Compare the BT.601 luma of RGB images (grayscale images are used as they are).
    pub y_channel: bool,
    /// Pixels removed from every border before comparing.
    pub crop_border: usize,
}

/// The SSIM window: 11 taps of a Gaussian with sigma 1.5 (scipy's truncate = 3.5), normalised.
const RADIUS: usize = 5;
const K1: f64 = 0.01;
const K2: f64 = 0.03;
const PEAK: f64 = 255.0;

fn gaussian_window() -> [f64; 2 * RADIUS + 1] {
    let sigma = 1.5f64;
    let mut w = [0.0; 2 * RADIUS + 1];
    for (i, v) in w.iter_mut().enumerate() {
        let x = i as f64 - RADIUS as f64;
        *v = (-0.5 * x * x / (sigma * sigma)).exp();
    }
    let sum: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= sum);
    w
}

/// Applies the Y-channel and crop options.
pub fn prepare(image: &Image, options: PixelOptions) -> Image {
    let luma = if options.y_channel && image.channels() == 3 {
        let (r, g, b) = (&image.planes[0], &image.planes[1], &image.planes[2]);
        // As BasicSR: RGB scaled to [0, 1] in float32, then the BT.601 weights in float64.
        let unit = |v: f64| (v as f32 / 255.0) as f64;
        let y: Vec<f64> = (0..r.len())
            .map(|i| 16.0 + 65.481 * unit(r[i]) + 128.553 * unit(g[i]) + 24.966 * unit(b[i]))
            .collect();
        Image {
            width: image.width,
            height: image.height,
            planes: vec![y],
        }
    } else {
        image.clone()
    };
    crop(&luma, options.crop_border)
}

fn crop(image: &Image, border: usize) -> Image {
    if border == 0 {
        return image.clone();
    }
    let width = image.width.saturating_sub(2 * border);
    let height = image.height.saturating_sub(2 * border);
    let planes = image
        .planes
        .iter()
        .map(|p| {
            (border..border + height)
                .flat_map(|y| {
                    p[y * image.width + border..y * image.width + border + width]
                        .iter()
                        .copied()
                })
                .collect()
        })
        .collect();
    Image {
        width,
        height,
        planes,
    }
}

/// PSNR in dB of two prepared images of equal shape (infinite when they are identical).
pub fn psnr(a: &Image, b: &Image) -> f64 {
    let mut sum = 0.0;
    let mut n = 0usize;
    for (pa, pb) in a.planes.iter().zip(&b.planes) {
        sum += pa
            .iter()
            .zip(pb)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>();
        n += pa.len();
    }
    let mse = sum / n as f64;
    10.0 * (PEAK * PEAK / mse).log10()
}

/// Mean SSIM of two prepared images of equal shape, channels averaged.
pub fn ssim(a: &Image, b: &Image) -> f64 {
    let window = gaussian_window();
    let total: f64 = a
        .planes
        .iter()
        .zip(&b.planes)
        .map(|(x, y)| ssim_plane(x, y, a.width, a.height, &window))
        .sum();
    total / a.channels() as f64
}

/// SSIM of one plane. The separable Gaussian filter is evaluated only where the window fits:
/// for each output row, a vertical pass over the five input planes (x, y, x^2, y^2, xy) into
/// row buffers, then a horizontal pass and the SSIM formula. Every loop runs over contiguous,
/// equally long slices so that it vectorises; on CPUs with AVX2 the same code is compiled for
/// it (the operations and their order per pixel do not change, so neither do the results).
fn ssim_plane(x: &[f64], y: &[f64], width: usize, height: usize, g: &[f64; 2 * RADIUS + 1]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { ssim_plane_avx2(x, y, width, height, g) };
        }
    }
    ssim_plane_portable(x, y, width, height, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ssim_plane_avx2(
    x: &[f64],
    y: &[f64],
    width: usize,
    height: usize,
    g: &[f64; 2 * RADIUS + 1],
) -> f64 {
    ssim_plane_portable(x, y, width, height, g)
}

#[inline(always)]
fn ssim_plane_portable(
    x: &[f64],
    y: &[f64],
    width: usize,
    height: usize,
    g: &[f64; 2 * RADIUS + 1],
) -> f64 {
    let c1 = (K1 * PEAK).powi(2);
    let c2 = (K2 * PEAK).powi(2);
    let out_w = width - 2 * RADIUS;
    let n = width * height;
    let (x, y) = (&x[..n], &y[..n]);
    let xx: Vec<f64> = x.iter().map(|v| v * v).collect();
    let yy: Vec<f64> = y.iter().map(|v| v * v).collect();
    let xy: Vec<f64> = x.iter().zip(y).map(|(a, b)| a * b).collect();
    let planes: [&[f64]; 5] = [x, y, &xx, &yy, &xy];
    let mut vertical = vec![vec![0.0f64; width]; 5];
    let mut filtered = vec![vec![0.0f64; out_w]; 5];
    let mut total = 0.0;
    for row in RADIUS..height - RADIUS {
        for ((plane, v), h) in planes
            .iter()
            .zip(vertical.iter_mut())
            .zip(filtered.iter_mut())
        {
            let v = &mut v[..width];
            v.fill(0.0);
            for (k, &weight) in g.iter().enumerate() {
                let start = (row + k - RADIUS) * width;
                let source = &plane[start..start + width];
                for c in 0..width {
                    v[c] += weight * source[c];
                }
            }
            let h = &mut h[..out_w];
            h.fill(0.0);
            for (k, &weight) in g.iter().enumerate() {
                let source = &v[k..k + out_w];
                for c in 0..out_w {
                    h[c] += weight * source[c];
                }
            }
        }
        let [ux, uy, uxx, uyy, uxy] = &filtered[..] else {
            unreachable!("five planes")
        };
        let (ux, uy, uxx, uyy, uxy) = (
            &ux[..out_w],
            &uy[..out_w],
            &uxx[..out_w],
            &uyy[..out_w],
            &uxy[..out_w],
        );
        let mut row_sum = 0.0;
        for c in 0..out_w {
            let vx = uxx[c] - ux[c] * ux[c];
            let vy = uyy[c] - uy[c] * uy[c];
            let vxy = uxy[c] - ux[c] * uy[c];
            let numerator = (2.0 * ux[c] * uy[c] + c1) * (2.0 * vxy + c2);
            let denominator = (ux[c] * ux[c] + uy[c] * uy[c] + c1) * (vx + vy + c2);
            row_sum += numerator / denominator;
        }
        total += row_sum;
    }
    total / (out_w * (height - 2 * RADIUS)) as f64
}

/// The metric of one pair of images, after checking that they can be compared.
pub fn compare(
    name: &str,
    reference: &Image,
    test: &Image,
    metric: PixelMetric,
    options: PixelOptions,
) -> Result<f64, MetricError> {
    if (reference.width, reference.height) != (test.width, test.height) {
        return Err(MetricError::SizeMismatch {
            name: name.to_string(),
            ref_w: reference.width as u32,
            ref_h: reference.height as u32,
            test_w: test.width as u32,
            test_h: test.height as u32,
        });
    }
    if reference.channels() != test.channels() {
        return Err(MetricError::ChannelMismatch {
            name: name.to_string(),
            ref_channels: reference.describe_channels(),
            test_channels: test.describe_channels(),
        });
    }
    let a = prepare(reference, options);
    let b = prepare(test, options);
    match metric {
        PixelMetric::Psnr => {
            if a.width == 0 || a.height == 0 {
                return Err(MetricError::TooSmall {
                    name: name.to_string(),
                    width: a.width,
                    height: a.height,
                });
            }
            Ok(psnr(&a, &b))
        }
        PixelMetric::Ssim => {
            if a.width < 2 * RADIUS + 1 || a.height < 2 * RADIUS + 1 {
                return Err(MetricError::TooSmall {
                    name: name.to_string(),
                    width: a.width,
                    height: a.height,
                });
            }
            Ok(ssim(&a, &b))
        }
    }
}

/// Per-image values and their summary, for a pair of files or of folders.
#[derive(Debug, Clone, Serialize)]
pub struct PixelReport {
    pub metric: PixelMetric,
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation over images (0 for one image).
    pub std: f64,
    pub per_image: std::collections::BTreeMap<String, f64>,
    pub y_channel: bool,
    pub crop_border: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Measures two image files, or two folders paired by file name (in parallel).
pub fn measure(
    reference: &Path,
    test: &Path,
    metric: PixelMetric,
    options: PixelOptions,
) -> Result<PixelReport, MetricError> {
    let pairs: Vec<(String, std::path::PathBuf, std::path::PathBuf)> =
        match (reference.is_dir(), test.is_dir()) {
            (true, true) => image::pair_folders(reference, test)?,
            (false, false) => {
                let name = test
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| test.display().to_string());
                vec![(name, reference.to_path_buf(), test.to_path_buf())]
            }
            _ => return Err(MetricError::MixedInputs),
        };
    /// A named value with the notes its images came with.
    type Measured = (String, f64, Vec<String>);
    let results: Vec<Result<Measured, MetricError>> = pairs
        .par_iter()
        .map(|(name, a, b)| {
            let a = image::load(a)?;
            let b = image::load(b)?;
            let value = compare(name, &a.image, &b.image, metric, options)?;
            let mut notes = a.notes;
            notes.extend(b.notes);
            Ok((name.clone(), value, notes))
        })
        .collect();
    let mut per_image = std::collections::BTreeMap::new();
    let mut notes = Vec::new();
    for result in results {
        let (name, value, n) = result?;
        per_image.insert(name, value);
        notes.extend(n);
    }
    let values: Vec<f64> = per_image.values().copied().collect();
    let (mean, std) = crate::stats::mean_and_sd(&values);
    Ok(PixelReport {
        metric,
        n: values.len(),
        mean,
        std,
        per_image,
        y_channel: options.y_channel,
        crop_border: options.crop_border,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(seed: u64, n: usize) -> Vec<f64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 256) as f64
            })
            .collect()
    }

    #[test]
    fn identical_images_have_ssim_one_and_infinite_psnr() {
        let img = Image {
            width: 24,
            height: 16,
            planes: vec![plane(1, 384)],
        };
        assert!((ssim(&img, &img) - 1.0).abs() < 1e-12);
        assert!(psnr(&img, &img).is_infinite());
    }

    #[test]
    fn the_vectorised_path_gives_the_same_bits() {
        let (x, y) = (plane(3, 37 * 29), plane(4, 37 * 29));
        let g = gaussian_window();
        let portable = ssim_plane_portable(&x, &y, 37, 29, &g);
        assert_eq!(ssim_plane(&x, &y, 37, 29, &g).to_bits(), portable.to_bits());
    }

    #[test]
    fn the_y_channel_follows_bt601() {
        let white = Image {
            width: 1,
            height: 1,
            planes: vec![vec![255.0], vec![255.0], vec![255.0]],
        };
        let y = prepare(
            &white,
            PixelOptions {
                y_channel: true,
                crop_border: 0,
            },
        );
        assert!(
            (y.planes[0][0] - 235.0).abs() < 1e-9,
            "white is 235 in BT.601"
        );
    }
}
