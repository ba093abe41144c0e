//! `cargo bench --bench metrics [-- DATA_DIR]`: the speed of heist's metrics.
//!
//! - SSIM + PSNR over 1000 pairs of 256x256 RGB PNGs (written to DATA_DIR, default
//!   `target/bench-metrics`, if not there), end to end (decode + measure) and measuring only;
//! - FID and KID from two 10,000 x 2048 feature matrices.
//!
//! `bench/metrics_skimage.py DATA_DIR` times scikit-image on the same images; `bench/metrics.sh`
//! runs both, one after the other, on the same machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use heist::metrics::features::FeatureMatrix;
use heist::metrics::frechet;
use heist::metrics::image::{self, Image};
use heist::metrics::pixel::{self, PixelMetric, PixelOptions};
use rayon::prelude::*;

const PAIRS: usize = 1000;
const SIZE: u32 = 256;

/// A deterministic textured image and a noisy copy, so SSIM is neither 0 nor 1.
fn write_pairs(dir: &Path) {
    let (reference, test) = (dir.join("ref"), dir.join("test"));
    if test.join(format!("{:04}.png", PAIRS - 1)).exists() {
        return;
    }
    std::fs::create_dir_all(&reference).unwrap();
    std::fs::create_dir_all(&test).unwrap();
    (0..PAIRS).into_par_iter().for_each(|k| {
        let mut state = k as u64 * 0x9E37_79B9 + 1;
        let mut noise = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 33) as i32 - 16
        };
        let a = ::image::RgbImage::from_fn(SIZE, SIZE, |x, y| {
            let v =
                |c: u32| (((x * (3 + c) + y * (5 + k as u32 % 7)) ^ (x * y / (1 + c))) % 256) as u8;
            ::image::Rgb([v(0), v(1), v(2)])
        });
        let b = ::image::RgbImage::from_fn(SIZE, SIZE, |x, y| {
            let p = a.get_pixel(x, y).0;
            ::image::Rgb(p.map(|c| (c as i32 + noise()).clamp(0, 255) as u8))
        });
        a.save(reference.join(format!("{k:04}.png"))).unwrap();
        b.save(test.join(format!("{k:04}.png"))).unwrap();
    });
}

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-metrics"));
    write_pairs(&dir);
    let threads = rayon::current_num_threads();
    println!("heist metrics benchmark ({threads} threads)");

    // Decode each pair once and measure both, as the scikit-image side does.
    let start = Instant::now();
    let (ssim, psnr): (f64, f64) = (0..PAIRS)
        .into_par_iter()
        .map(|k| {
            let name = format!("{k:04}.png");
            let a = image::load(&dir.join("ref").join(&name)).unwrap().image;
            let b = image::load(&dir.join("test").join(&name)).unwrap().image;
            (
                pixel::compare(&name, &a, &b, PixelMetric::Ssim, PixelOptions::default()).unwrap(),
                pixel::compare(&name, &a, &b, PixelMetric::Psnr, PixelOptions::default()).unwrap(),
            )
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let end_to_end = start.elapsed().as_secs_f64();
    println!(
        "ssim+psnr, {PAIRS} pairs {SIZE}x{SIZE} RGB, decode + measure: {end_to_end:.3} s (SSIM {:.4}, PSNR {:.2} dB)",
        ssim / PAIRS as f64,
        psnr / PAIRS as f64
    );

    let pairs: Vec<(Image, Image)> = (0..PAIRS)
        .into_par_iter()
        .map(|k| {
            let name = format!("{k:04}.png");
            (
                image::load(&dir.join("ref").join(&name)).unwrap().image,
                image::load(&dir.join("test").join(&name)).unwrap().image,
            )
        })
        .collect();
    let start = Instant::now();
    let total: f64 = pairs
        .par_iter()
        .map(|(a, b)| {
            pixel::compare("", a, b, PixelMetric::Ssim, PixelOptions::default()).unwrap()
                + pixel::compare("", a, b, PixelMetric::Psnr, PixelOptions::default()).unwrap()
        })
        .sum();
    println!(
        "ssim+psnr, {PAIRS} pairs, measure only (decoded): {:.3} s (checksum {total:.3})",
        start.elapsed().as_secs_f64()
    );

    let features = |seed: u64, shift: f64| {
        let (rows, cols) = (10_000, 2048);
        let mut state = seed;
        let data = (0..rows * cols)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 + shift
            })
            .collect();
        FeatureMatrix {
            rows,
            cols,
            data,
            source: PathBuf::from(format!("random-{seed}")),
        }
    };
    let (a, b) = (features(1, 0.0), features(2, 0.01));
    let start = Instant::now();
    let fid = frechet::fid(&a, &b).unwrap();
    println!(
        "fid, 10000 x 2048 vs 10000 x 2048: {:.3} s (FID {fid:.4})",
        start.elapsed().as_secs_f64()
    );
}
