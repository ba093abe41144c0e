//! Training batches as the reference implementations make them: examples in a fresh seeded
//! order every epoch, a random crop to the network's size and a random horizontal flip.
//! Evaluation never crops or flips.

use burn::tensor::{Device, Tensor};
use image::imageops;
use image::RgbImage;

use super::checkpoint::State;
use crate::engine::tensors::to_tensor;
use crate::rng::Rng;

/// (input, target) training pairs, batch by batch: matching random crops (the input's crop is
/// `crop`, the target is `scale` times larger) and flips.
#[derive(Clone)]
pub struct PairedBatches {
    inputs: Vec<RgbImage>,
    targets: Vec<RgbImage>,
    epochs: Epochs,
    crop: u32,
    scale: u32,
    rng: Rng,
    device: Device,
}

impl PairedBatches {
    pub fn new(
        inputs: Vec<RgbImage>,
        targets: Vec<RgbImage>,
        crop: u32,
        scale: u32,
        seed: u64,
        device: &Device,
    ) -> PairedBatches {
        PairedBatches {
            epochs: Epochs::new(inputs.len(), Rng::derive(seed, &[1])),
            inputs,
            targets,
            crop,
            scale,
            rng: Rng::derive(seed, &[2]),
            device: device.clone(),
        }
    }

    pub fn next(&mut self, n: usize) -> (Tensor<4>, Tensor<4>) {
        let pairs: Vec<(RgbImage, RgbImage)> = self
            .epochs
            .take(n)
            .into_iter()
            .map(|i| {
                crop_and_flip_pair(
                    &self.inputs[i],
                    &self.targets[i],
                    self.crop,
                    self.scale,
                    true,
                    &mut self.rng,
                )
            })
            .collect();
        let a: Vec<&RgbImage> = pairs.iter().map(|p| &p.0).collect();
        let b: Vec<&RgbImage> = pairs.iter().map(|p| &p.1).collect();
        (to_tensor(&a, &self.device), to_tensor(&b, &self.device))
    }

    pub fn save(&self, state: &mut State) {
        self.epochs.save("batches.epochs", state);
        state.put_rng("batches.rng", &self.rng);
    }

    pub fn restore(&mut self, state: &State) -> Result<(), String> {
        self.epochs = Epochs::restore("batches.epochs", state, self.inputs.len())?;
        self.rng = state.rng("batches.rng")?;
        Ok(())
    }
}

/// Images of two domains without pairs, batch by batch: independent epochs, random crops to
/// `size` and flips.
#[derive(Clone)]
pub struct UnpairedBatches {
    a: Vec<RgbImage>,
    b: Vec<RgbImage>,
    epochs_a: Epochs,
    epochs_b: Epochs,
    size: u32,
    rng: Rng,
    device: Device,
}

impl UnpairedBatches {
    pub fn new(
        a: Vec<RgbImage>,
        b: Vec<RgbImage>,
        size: u32,
        seed: u64,
        device: &Device,
    ) -> UnpairedBatches {
        UnpairedBatches {
            epochs_a: Epochs::new(a.len(), Rng::derive(seed, &[1])),
            epochs_b: Epochs::new(b.len(), Rng::derive(seed, &[2])),
            a,
            b,
            size,
            rng: Rng::derive(seed, &[3]),
            device: device.clone(),
        }
    }

    pub fn next(&mut self, n: usize) -> (Tensor<4>, Tensor<4>) {
        let picks_a = self.epochs_a.take(n);
        let picks_b = self.epochs_b.take(n);
        let mut crops = |images: &[RgbImage], picks: &[usize]| {
            let crops: Vec<RgbImage> = picks
                .iter()
                .map(|&i| crop_and_flip(&images[i], self.size, true, &mut self.rng))
                .collect();
            to_tensor(&crops.iter().collect::<Vec<_>>(), &self.device)
        };
        (crops(&self.a, &picks_a), crops(&self.b, &picks_b))
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn save(&self, state: &mut State) {
        self.epochs_a.save("batches.epochs_a", state);
        self.epochs_b.save("batches.epochs_b", state);
        state.put_rng("batches.rng", &self.rng);
    }

    pub fn restore(&mut self, state: &State) -> Result<(), String> {
        self.epochs_a = Epochs::restore("batches.epochs_a", state, self.a.len())?;
        self.epochs_b = Epochs::restore("batches.epochs_b", state, self.b.len())?;
        self.rng = state.rng("batches.rng")?;
        Ok(())
    }
}

/// Endless shuffled passes over `n` examples.
#[derive(Debug, Clone)]
pub struct Epochs {
    order: Vec<usize>,
    next: usize,
    rng: Rng,
}

impl Epochs {
    pub fn new(n: usize, rng: Rng) -> Epochs {
        assert!(n > 0, "a training set needs examples");
        Epochs {
            order: (0..n).collect(),
            next: n,
            rng,
        }
    }

    /// `[next, generator state, order...]`, for checkpoints.
    /// Kept in a checkpoint under `name`.
    pub fn save(&self, name: &str, state: &mut State) {
        state.put_numbers(name, self.to_numbers());
    }

    /// As [`Epochs::save`] kept it, for `examples` examples.
    pub fn restore(name: &str, state: &State, examples: usize) -> Result<Epochs, String> {
        Epochs::from_numbers(state.numbers(name)?, examples)
            .ok_or_else(|| format!("`{name}` is not an epoch order over {examples} examples"))
    }

    pub fn to_numbers(&self) -> Vec<u64> {
        let mut numbers = vec![self.next as u64, self.rng.state()];
        numbers.extend(self.order.iter().map(|&i| i as u64));
        numbers
    }

    /// The epochs [`Epochs::to_numbers`] wrote, if they are a pass over `n` examples.
    pub fn from_numbers(numbers: &[u64], n: usize) -> Option<Epochs> {
        let (&next, rest) = numbers.split_first()?;
        let (&state, order) = rest.split_first()?;
        let order: Vec<usize> = order.iter().map(|&i| i as usize).collect();
        let mut seen = vec![false; n];
        for &i in &order {
            if i >= n || std::mem::replace(&mut seen[i], true) {
                return None;
            }
        }
        (order.len() == n && next as usize <= n).then(|| Epochs {
            order,
            next: next as usize,
            rng: Rng::new(state),
        })
    }

    /// The next `count` example indices.
    pub fn take(&mut self, count: usize) -> Vec<usize> {
        (0..count)
            .map(|_| {
                if self.next == self.order.len() {
                    // Fisher-Yates with the epoch's draws.
                    for i in (1..self.order.len()).rev() {
                        let j = self.rng.below(i + 1);
                        self.order.swap(i, j);
                    }
                    self.next = 0;
                }
                self.next += 1;
                self.order[self.next - 1]
            })
            .collect()
    }
}

/// A random `size`x`size` crop (the image itself when it has that size) and, with `flip`, a
/// horizontal flip with probability 1/2.
pub fn crop_and_flip(image: &RgbImage, size: u32, flip: bool, rng: &mut Rng) -> RgbImage {
    let (w, h) = image.dimensions();
    let x = rng.below((w - size + 1) as usize) as u32;
    let y = rng.below((h - size + 1) as usize) as u32;
    let mut out = if (w, h) == (size, size) {
        image.clone()
    } else {
        imageops::crop_imm(image, x, y, size, size).to_image()
    };
    if flip && rng.chance(0.5) {
        imageops::flip_horizontal_in_place(&mut out);
    }
    out
}

/// The same random crop and flip of an input and its target; the target may be `scale` times
/// larger (super-resolution), with `size` the input's crop.
pub fn crop_and_flip_pair(
    input: &RgbImage,
    target: &RgbImage,
    size: u32,
    scale: u32,
    flip: bool,
    rng: &mut Rng,
) -> (RgbImage, RgbImage) {
    let (w, h) = input.dimensions();
    let x = rng.below((w - size + 1) as usize) as u32;
    let y = rng.below((h - size + 1) as usize) as u32;
    let mut a = imageops::crop_imm(input, x, y, size, size).to_image();
    let mut b =
        imageops::crop_imm(target, x * scale, y * scale, size * scale, size * scale).to_image();
    if flip && rng.chance(0.5) {
        imageops::flip_horizontal_in_place(&mut a);
        imageops::flip_horizontal_in_place(&mut b);
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_epoch_visits_every_example_once() {
        let mut epochs = Epochs::new(5, Rng::new(3));
        for _ in 0..3 {
            let mut seen = epochs.take(5);
            seen.sort();
            assert_eq!(seen, vec![0, 1, 2, 3, 4]);
        }
    }

    #[test]
    fn pairs_are_cropped_at_matching_places() {
        let input = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let target =
            RgbImage::from_fn(32, 32, |x, y| image::Rgb([(x / 4) as u8, (y / 4) as u8, 0]));
        let mut rng = Rng::new(1);
        for _ in 0..10 {
            let (a, b) = crop_and_flip_pair(&input, &target, 4, 4, true, &mut rng);
            assert_eq!(b.dimensions(), (16, 16));
            assert_eq!(a.get_pixel(0, 0), b.get_pixel(0, 0));
            assert_eq!(a.get_pixel(3, 3), b.get_pixel(15, 15));
        }
    }
}
