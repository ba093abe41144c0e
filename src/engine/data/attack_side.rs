//! What the attacker does to their own data before querying the victim (Section 6 of the
//! paper): keep a fraction of it, and augment it locally.
//!
//! - Fractions are nested seeded subsets: one seeded permutation of the data, of which a
//!   fraction keeps the first `round(fraction * n)` items, so 25 % lies within 50 % within 75 %
//!   within 100 % -- the smaller attack never saw an image the larger one lacks.
//! - Augmentations are applied deterministically from a seed: the same seed, image and
//!   augmentation give the same pixels.

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

use crate::rng::Rng;
use crate::sema::program::Augmentation;

/// Indices (sorted) of the items of an `n`-item dataset that `fraction` keeps, for `seed`.
pub fn nested_subset(n: usize, fraction: f64, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::derive(seed, &[0x5AB5E7]); // "subset"
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let keep = ((fraction * n as f64).round() as usize).clamp(usize::from(n > 0), n);
    let mut kept = order[..keep].to_vec();
    kept.sort_unstable();
    kept
}

/// `image` augmented with `augmentation`, its random choices drawn from `seed`.
pub fn augment(image: &RgbImage, augmentation: &Augmentation, seed: u64) -> RgbImage {
    let mut rng = Rng::new(seed);
    match augmentation {
        Augmentation::None => image.clone(),
        Augmentation::Flip => imageops::flip_horizontal(image),
        Augmentation::Rotate { degrees } => {
            // Up to `degrees` either way, as torchvision's RandomRotation(degrees).
            let angle = rng.range(-degrees.abs(), degrees.abs());
            rotate(image, angle)
        }
        Augmentation::Cutout { size } => {
            // Crop in on a random part covering `size` of each side, resized back.
            let (w, h) = image.dimensions();
            let (cw, ch) = (
                ((w as f64 * size).round() as u32).max(1),
                ((h as f64 * size).round() as u32).max(1),
            );
            let x = rng.below((w - cw + 1) as usize) as u32;
            let y = rng.below((h - ch + 1) as usize) as u32;
            let part = imageops::crop_imm(image, x, y, cw, ch).to_image();
            imageops::resize(&part, w, h, FilterType::Triangle)
        }
        Augmentation::Contrast { change } => {
            // Scale the distance from the image's mean grey by 1 + change, as PIL's contrast enhancer.
            let n = (image.width() * image.height()) as f64;
            let mean = image
                .pixels()
                .map(|p| {
                    (0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64) / n
                })
                .sum::<f64>();
            let factor = 1.0 + change;
            let mut out = image.clone();
            for p in out.pixels_mut() {
                *p = Rgb(p.0.map(|v| {
                    (mean + (v as f64 - mean) * factor)
                        .round()
                        .clamp(0.0, 255.0) as u8
                }));
            }
            out
        }
    }
}

/// Rotation about the centre by `degrees` with bilinear sampling; corners that fall outside
/// take the nearest edge pixel (no black wedges for the surrogate to learn).
fn rotate(image: &RgbImage, degrees: f64) -> RgbImage {
    let (w, h) = image.dimensions();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let sample = |x: f64, y: f64, c: usize| {
        let x = x.clamp(0.0, w as f64 - 1.0);
        let y = y.clamp(0.0, h as f64 - 1.0);
        let (x0, y0) = (x.floor() as u32, y.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (tx, ty) = (x - x0 as f64, y - y0 as f64);
        let at = |x: u32, y: u32| image.get_pixel(x, y).0[c] as f64;
        let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
        let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
        top * (1.0 - ty) + bottom * ty
    };
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
        // The source of each output pixel: the inverse rotation.
        let (sx, sy) = (
            cos * dx + sin * dy + cx - 0.5,
            -sin * dx + cos * dy + cy - 0.5,
        );
        Rgb([0, 1, 2].map(|c| sample(sx, sy, c).round().clamp(0.0, 255.0) as u8))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_are_nested_and_sized() {
        let n = 101;
        let subsets: Vec<Vec<usize>> = [0.25, 0.5, 0.75, 1.0]
            .iter()
            .map(|f| nested_subset(n, *f, 9))
            .collect();
        assert_eq!(
            subsets.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![25, 51, 76, 101]
        );
        for pair in subsets.windows(2) {
            assert!(
                pair[0].iter().all(|i| pair[1].contains(i)),
                "each fraction lies within the next"
            );
        }
        assert_ne!(
            nested_subset(n, 0.25, 9),
            nested_subset(n, 0.25, 10),
            "the seed chooses"
        );
        assert_eq!(nested_subset(n, 0.25, 9), nested_subset(n, 0.25, 9));
        assert_eq!(
            nested_subset(3, 0.01, 1).len(),
            1,
            "a fraction keeps at least one item"
        );
    }

    fn picture() -> RgbImage {
        RgbImage::from_fn(40, 30, |x, y| {
            Rgb([(x * 6) as u8, (y * 8) as u8, ((x + y) * 3) as u8])
        })
    }

    #[test]
    fn augmentations_are_deterministic_and_do_what_they_say() {
        let image = picture();
        let all = [
            Augmentation::Flip,
            Augmentation::Rotate { degrees: 5.0 },
            Augmentation::Cutout { size: 0.5 },
            Augmentation::Contrast { change: 0.2 },
        ];
        for a in &all {
            let once = augment(&image, a, 3);
            assert_eq!(once, augment(&image, a, 3), "{a}: same seed, same pixels");
            assert_ne!(once, image, "{a}: changes the image");
            assert_eq!(once.dimensions(), image.dimensions());
        }
        assert_eq!(augment(&image, &Augmentation::None, 3), image);
        let flipped = augment(&image, &Augmentation::Flip, 0);
        assert_eq!(flipped.get_pixel(0, 5), image.get_pixel(39, 5));
        assert_ne!(
            augment(&image, &Augmentation::Rotate { degrees: 5.0 }, 1),
            augment(&image, &Augmentation::Rotate { degrees: 5.0 }, 2),
            "the seed draws the angle"
        );
        // More contrast: values move away from the mean.
        let spread = |i: &RgbImage| {
            let v: Vec<f64> = i.pixels().map(|p| p.0[0] as f64).collect();
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - m).abs()).sum::<f64>()
        };
        assert!(
            spread(&augment(&image, &Augmentation::Contrast { change: 0.2 }, 0)) > spread(&image)
        );
    }
}
