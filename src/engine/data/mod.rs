//! Image data: built-in synthetic domains, folder datasets in their layouts, and the
//! attacker-side fractions and augmentations.

pub mod attack_side;
pub mod folder;
pub mod synthetic;

use std::path::Path;

use crate::sema::program::{DataRef, DatasetSource, Program};

pub use folder::{DataError, Sample};

/// The samples of a dataset (or one part of it) of a checked program, in a fixed order.
/// Relative folder paths are taken from `base` (the experiment's folder). Folder images are
/// resized to the dataset's `load_size`; training crops them randomly, evaluation uses
/// [`folder::resize_and_crop`].
pub fn load(program: &Program, data: &DataRef, base: &Path) -> Result<Vec<Sample>, DataError> {
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
            if let (Some(load), None) = (dataset.load_size, scale) {
                for s in &mut samples {
                    s.image = image::imageops::resize(
                        &s.image,
                        load,
                        load,
                        image::imageops::FilterType::CatmullRom,
                    );
                }
            }
            Ok(samples)
        }
    }
}
