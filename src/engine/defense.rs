//! Defences wrapped around a victim's answers (Section 7), applied in declared order:
//!
//! - **watermark** (DAWN, Szyller et al. 2021): a keyed hash of each query picks a `fraction`
//!   of them; their answers are replaced by a trigger (blurred, monochrome, or with a text
//!   stamped on) and remembered, so that the owner can later ask a suspect model the same
//!   queries and see whether it reproduces the triggers;
//! - **fingerprint** (a keyed spread-spectrum mark in the spirit of Yu et al. 2021): `bits`
//!   key-derived bits added to every answer as a ±[`FINGERPRINT_AMPLITUDE`] pattern, read back
//!   from any image by correlating its high-pass residual with the key's patterns;
//! - **perturbation**: PGD under L-infinity (`epsilon`, `steps`, `step_size`, pixels in [0, 1])
//!   pushing each answer away from the original in the feature space of a fixed, seeded
//!   convolutional proxy (the defender does not know the attacker's surrogate).

use burn::module::Module;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use sha2::{Digest, Sha256};

use crate::engine::tensors::{to_images, to_tensor};
use crate::nn::{conv2d, initialise, Init};
use crate::rng::Rng;
use crate::sema::program::{Defense, Trigger};

/// The fingerprint's amplitude in 8-bit levels: barely visible, enough to read back from small images.
pub const FINGERPRINT_AMPLITUDE: f32 = 6.0;

/// Answers after the defences, with what the watermark remembers.
#[derive(Debug, Clone, Default)]
pub struct Defended {
    pub answers: Vec<RgbImage>,
    /// Indices of the watermarked queries.
    pub watermarked: Vec<usize>,
    /// The answers those queries would have had (same order).
    pub clean: Vec<RgbImage>,
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

fn seed_of(key: &str, purpose: &str) -> u64 {
    let d = digest(&[key.as_bytes(), purpose.as_bytes()]);
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Whether the watermark with `key` picks this query: a keyed hash below `fraction`.
pub fn picks(key: &str, fraction: f64, input: &RgbImage) -> bool {
    let d = digest(&[key.as_bytes(), input.as_raw()]);
    let u = u64::from_le_bytes(d[..8].try_into().expect("8 bytes"));
    (u as f64) / (u64::MAX as f64) < fraction
}

/// Applies `defenses` to the answers of `inputs`.
pub fn apply(
    defenses: &[Defense],
    inputs: &[RgbImage],
    answers: Vec<RgbImage>,
    device: &Device,
) -> Defended {
    let mut out = Defended {
        answers,
        ..Defended::default()
    };
    for d in defenses {
        match d {
            Defense::Watermark {
                fraction,
                trigger,
                key,
                ..
            } => {
                for (i, input) in inputs.iter().enumerate() {
                    if picks(key, *fraction, input) && !out.watermarked.contains(&i) {
                        out.watermarked.push(i);
                        out.clean.push(out.answers[i].clone());
                        out.answers[i] = triggered(trigger, &out.answers[i]);
                    }
                }
            }
            Defense::Fingerprint { bits, key, .. } => {
                for a in &mut out.answers {
                    *a = embed(a, *bits, key);
                }
            }
            Defense::Perturbation {
                epsilon,
                steps,
                step_size,
                ..
            } => {
                out.answers = perturb(&out.answers, *epsilon, *steps, *step_size, device);
            }
        }
    }
    out
}

/// The watermark's version of an answer.
pub fn triggered(trigger: &Trigger, answer: &RgbImage) -> RgbImage {
    match trigger {
        Trigger::Blur => image::imageops::blur(answer, (answer.width() as f32 / 32.0).max(1.5)),
        Trigger::Monochrome => RgbImage::from_fn(answer.width(), answer.height(), |x, y| {
            let p = answer.get_pixel(x, y).0;
            let l = (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).round() as u8;
            image::Rgb([l, l, l])
        }),
        Trigger::Text { text } => stamp(answer, text),
    }
}

/// `text` in white on a dark band across the bottom of the image.
fn stamp(answer: &RgbImage, text: &str) -> RgbImage {
    use plotters::prelude::*;
    crate::font::register();
    let (w, h) = answer.dimensions();
    let mut buffer = answer.as_raw().clone();
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        let band = (h / 4).max(8) as i32;
        let _ = root.draw(&Rectangle::new(
            [(0, h as i32 - band), (w as i32, h as i32)],
            BLACK.mix(0.6).filled(),
        ));
        let style = (crate::font::FAMILY, band as f64 * 0.8)
            .into_font()
            .color(&WHITE);
        let _ = root.draw(&Text::new(
            text.to_string(),
            (2, h as i32 - band + 1),
            style,
        ));
        let _ = root.present();
    }
    RgbImage::from_raw(w, h, buffer).expect("same size")
}

/// The key's bits and, for an image of `len` values, each value's bit and sign.
fn fingerprint_pattern(bits: u32, key: &str, len: usize) -> (Vec<bool>, Vec<(usize, f32)>) {
    let mut rng = Rng::new(seed_of(key, "fingerprint bits"));
    let message: Vec<bool> = (0..bits).map(|_| rng.chance(0.5)).collect();
    let mut rng = Rng::derive(seed_of(key, "fingerprint pattern"), &[len as u64]);
    let pattern = (0..len)
        .map(|_| {
            let bit = rng.below(bits as usize);
            let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
            (bit, sign)
        })
        .collect();
    (message, pattern)
}

/// The answer with the key's fingerprint added.
pub fn embed(answer: &RgbImage, bits: u32, key: &str) -> RgbImage {
    let raw = answer.as_raw();
    let (message, pattern) = fingerprint_pattern(bits, key, raw.len());
    let marked: Vec<u8> = raw
        .iter()
        .zip(&pattern)
        .map(|(&v, &(bit, sign))| {
            let b = if message[bit] { 1.0 } else { -1.0 };
            (v as f32 + FINGERPRINT_AMPLITUDE * sign * b)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    RgbImage::from_raw(answer.width(), answer.height(), marked).expect("same size")
}

/// The share of the key's bits read back from `image` (0.5 is chance: no fingerprint).
pub fn bit_accuracy(image: &RgbImage, bits: u32, key: &str) -> f64 {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let (message, pattern) = fingerprint_pattern(bits, key, raw.len());
    // High-pass residual: each value minus the mean of its 3x3 neighbourhood (same channel).
    let at = |x: usize, y: usize, c: usize| raw[(y * w + x) * 3 + c] as f32;
    let mut score = vec![0f32; bits as usize];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let (mut sum, mut n) = (0f32, 0f32);
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        sum += at(xx, yy, c);
                        n += 1.0;
                    }
                }
                let residual = at(x, y, c) - sum / n;
                let (bit, sign) = pattern[(y * w + x) * 3 + c];
                score[bit] += residual * sign;
            }
        }
    }
    let right = score
        .iter()
        .zip(&message)
        .filter(|(s, m)| (**s > 0.0) == **m)
        .count();
    right as f64 / bits.max(1) as f64
}

/// The defender's proxy feature extractor: two seeded 3x3 convolutions.
#[derive(Module, Debug)]
struct Proxy {
    first: Conv2d,
    second: Conv2d,
}

impl Proxy {
    fn new(device: &Device) -> Proxy {
        let p = Proxy {
            first: conv2d(device, [3, 16], [3, 3], 1, [1, 1], true),
            second: conv2d(device, [16, 32], [3, 3], 2, [1, 1], true),
        };
        initialise(p, Init::TorchDefault, 0x5EC7_1057, &[])
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.second.forward(relu(self.first.forward(x))))
    }
}

/// PGD: `steps` signed-gradient steps of `step_size` maximising the proxy-feature distance to
/// the original answer, projected onto the L-infinity ball of `epsilon` and onto [0, 1].
pub fn perturb(
    answers: &[RgbImage],
    epsilon: f64,
    steps: u32,
    step_size: f64,
    device: &Device,
) -> Vec<RgbImage> {
    let device = device.clone().autodiff();
    let proxy = Proxy::new(&device);
    let mut out = Vec::with_capacity(answers.len());
    // Batches of at most 16 consecutive answers of one size, so that memory stays small.
    let mut start = 0;
    while start < answers.len() {
        let size = answers[start].dimensions();
        let len = answers[start..]
            .iter()
            .take(16)
            .take_while(|a| a.dimensions() == size)
            .count();
        let batch: Vec<&RgbImage> = answers[start..start + len].iter().collect();
        out.extend(perturb_batch(
            &proxy, &batch, epsilon, steps, step_size, &device,
        ));
        start += len;
    }
    out
}

fn perturb_batch(
    proxy: &Proxy,
    batch: &[&RgbImage],
    epsilon: f64,
    steps: u32,
    step_size: f64,
    device: &Device,
) -> Vec<RgbImage> {
    // Pixels in [0, 1], as `epsilon` and `step_size` are given.
    let original = ((to_tensor(batch, device) + 1.0) / 2.0).detach();
    let target = proxy.forward(original.clone()).detach();
    // Start inside the ball (a keyed, reproducible start: the zero start has no gradient
    // through the ReLUs' symmetric distance at delta = 0).
    let mut rng = Rng::new(0xD1FF);
    let dims = original.dims();
    let start: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| rng.range(-epsilon, epsilon) as f32 * 0.5)
        .collect();
    let mut x = (original.clone() + Tensor::from_data(TensorData::new(start, dims), device))
        .clamp(0.0, 1.0)
        .detach();
    for _ in 0..steps {
        let x_grad = x.clone().require_grad();
        let distance = (proxy.forward(x_grad.clone()) - target.clone())
            .powi_scalar(2)
            .mean();
        let grads = distance.backward();
        let g = x_grad.grad(&grads).expect("the input requires a gradient");
        let stepped = x.clone().inner() + g.sign() * step_size as f32;
        let low = original.clone().inner() - epsilon as f32;
        let high = original.clone().inner() + epsilon as f32;
        let projected = stepped.max_pair(low).min_pair(high).clamp(0.0, 1.0);
        x = Tensor::from_inner(projected).detach();
    }
    to_images(x.inner() * 2.0 - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(seed: u64) -> RgbImage {
        let mut rng = Rng::new(seed);
        RgbImage::from_fn(32, 32, |x, y| {
            let base = ((x * 7 + y * 3) % 200) as f64;
            image::Rgb(std::array::from_fn(|c| {
                (base + 20.0 * rng.unit() + c as f64 * 10.0) as u8
            }))
        })
    }

    #[test]
    fn a_fingerprint_reads_back_from_marked_answers_and_not_from_others() {
        let answers: Vec<RgbImage> = (0..8).map(picture).collect();
        let marked: Vec<f64> = answers
            .iter()
            .map(|a| bit_accuracy(&embed(a, 64, "key"), 64, "key"))
            .collect();
        let clean: Vec<f64> = answers.iter().map(|a| bit_accuracy(a, 64, "key")).collect();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean(&marked) > 0.9, "{marked:?}");
        assert!((mean(&clean) - 0.5).abs() < 0.15, "{clean:?}");
        // Another key reads chance from a marked answer.
        let other: Vec<f64> = answers
            .iter()
            .map(|a| bit_accuracy(&embed(a, 64, "key"), 64, "other"))
            .collect();
        assert!((mean(&other) - 0.5).abs() < 0.15, "{other:?}");
    }

    #[test]
    fn a_watermark_picks_its_fraction_of_queries_by_key() {
        let inputs: Vec<RgbImage> = (0..400).map(picture).collect();
        let picked = inputs.iter().filter(|i| picks("k", 0.25, i)).count();
        assert!((70..130).contains(&picked), "{picked}");
        let again = inputs.iter().filter(|i| picks("k", 0.25, i)).count();
        assert_eq!(picked, again);
        let triggered = triggered(&Trigger::Monochrome, &inputs[0]);
        assert!(triggered.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        let stamped = triggered_text(&inputs[0]);
        assert_ne!(stamped, inputs[0]);
    }

    fn triggered_text(image: &RgbImage) -> RgbImage {
        triggered(
            &Trigger::Text {
                text: "(c) V".into(),
            },
            image,
        )
    }

    #[test]
    fn perturbation_stays_within_epsilon_and_moves_the_answer() {
        let answers: Vec<RgbImage> = (0..3).map(picture).collect();
        let out = perturb(&answers, 0.05, 5, 0.02, &Device::flex());
        let mut moved = 0;
        for (a, p) in answers.iter().zip(&out) {
            for (x, y) in a.as_raw().iter().zip(p.as_raw()) {
                let d = (*x as i32 - *y as i32).abs();
                assert!(d <= (0.05f64 * 255.0).ceil() as i32 + 1, "{d}");
                moved += usize::from(d > 0);
            }
        }
        assert!(moved > answers.len() * 32 * 32, "{moved}");
    }
}
