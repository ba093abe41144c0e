//! CycleGAN's image pool (Shrivastava et al. 2017, as junyanz implements it): discriminators
//! see a history of generated images, not only the latest batch.

use burn::tensor::Tensor;

use crate::rng::Rng;

/// Up to `capacity` earlier fakes, each `[1, C, H, W]` and detached from any graph.
#[derive(Debug, Clone)]
pub struct ImagePool {
    capacity: usize,
    images: Vec<Tensor<4>>,
}

impl ImagePool {
    pub fn new(capacity: usize) -> ImagePool {
        ImagePool {
            capacity,
            images: Vec::new(),
        }
    }

    /// junyanz's `ImagePool.query`: while filling, store and return each image; once full,
    /// with probability 1/2 return a stored image and store the new one in its place.
    pub fn query(&mut self, fakes: Tensor<4>, rng: &mut Rng) -> Tensor<4> {
        if self.capacity == 0 {
            return fakes;
        }
        let batch = fakes.dims()[0];
        let mut out = Vec::with_capacity(batch);
        for i in 0..batch {
            let image = fakes.clone().narrow(0, i, 1).detach();
            if self.images.len() < self.capacity {
                self.images.push(image.clone());
                out.push(image);
            } else if rng.chance(0.5) {
                let slot = rng.below(self.capacity);
                out.push(std::mem::replace(&mut self.images[slot], image));
            } else {
                out.push(image);
            }
        }
        Tensor::cat(out, 0)
    }

    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The stored images (for checkpoints).
    pub fn images(&self) -> &[Tensor<4>] {
        &self.images
    }

    pub fn restore(capacity: usize, images: Vec<Tensor<4>>) -> ImagePool {
        ImagePool { capacity, images }
    }
}
