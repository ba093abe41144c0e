//! Image-quality metrics under pinned conventions (see `docs/metrics.md`):
//! PSNR and SSIM between paired images, FID and KID between feature distributions.
//! A leaf library: the runner and `heist metric` both call it.

mod error;
pub mod extractor;
pub mod features;
pub mod frechet;
pub mod image;
pub mod inception;
pub mod pixel;

pub use error::MetricError;
