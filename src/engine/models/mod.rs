//! The image-translation networks, as burn modules with their configurations.

pub mod cyclegan;
pub mod patchgan;
pub mod pix2pix;

use burn::module::Module;
use burn::store::ModuleSnapshot;

/// Trainable parameters (burn's `num_params` also counts BatchNorm's running statistics, which
/// PyTorch does not count as parameters).
pub fn trainable_parameters<M: Module + ModuleSnapshot>(module: &M) -> usize {
    module
        .collect(None, None, false)
        .iter()
        .filter(|t| !(t.name.ends_with("running_mean") || t.name.ends_with("running_var")))
        .map(|t| t.shape.iter().product::<usize>())
        .sum()
}
