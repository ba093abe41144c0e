//! Image data: built-in synthetic domains, folder datasets in their layouts, and the
//! attacker-side fractions and augmentations.

pub mod attack_side;
pub mod folder;
pub mod synthetic;

use std::path::Path;

use crate::sema::program::{DataRef, DatasetSource, Program};

pub use folder::{DataError, Sample};

/// How a dataset's images are prepared: as the reference implementations do, folder images
/// are resized to `load_size`; for a model's inputs they are then cut to their centre
/// `crop_size`, for training they are left whole (training crops them at random).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Training,
    Inputs,
}

/// The samples of a dataset (or one part of it) of a checked program, in a fixed order,
/// prepared for `purpose`. Relative folder paths are taken from `base` (the experiment's
/// folder).
pub fn load(
    program: &Program,
    data: &DataRef,
    base: &Path,
    purpose: Use,
) -> Result<Vec<Sample>, DataError> {
    let dataset = &program.datasets[&data.dataset];
    match &dataset.source {
        DatasetSource::Synthetic {
            domain,
            distribution,
            count,
            size,
            seed,
            scale,
        } => {
            let count = dataset.limit.map_or(*count, |l| l.min(*count));
            Ok((0..count)
                .map(|i| {
                    let image = synthetic::render(*domain, *distribution, *seed, i, *size);
                    let name = format!("{:05}.png", i);
                    match scale {
                        Some(s) => Sample {
                            name,
                            image: folder::downscale(&image, *s),
                            high: Some(image),
                        },
                        None => Sample {
                            name,
                            image,
                            high: None,
                        },
                    }
                })
                .collect())
        }
        DatasetSource::Folder {
            path,
            layout,
            scale,
        } => {
            let root = base.join(path);
            let mut samples =
                folder::read(&root, *layout, data.part.as_deref(), *scale, dataset.limit)?;
            if scale.is_none() {
                let crop = dataset.crop_size.filter(|_| purpose == Use::Inputs);
                for s in &mut samples {
                    let path = root.join(&s.name);
                    s.image =
                        folder::resize_and_crop(s.image.clone(), dataset.load_size, crop, &path)?;
                }
            }
            Ok(samples)
        }
    }
}
