//! Datasets in the folder layouts people download, read into samples:
//!
//! | layout | parts | files |
//! |---|---|---|
//! | `plain` | - | every image below the folder, by relative path |
//! | `cyclegan` | `trainA`, `trainB`, `testA`, `testB` | the part's subfolder |
//! | `div2k` | `train`, `valid` | `DIV2K_{part}_HR/`; LR from `DIV2K_{part}_LR_bicubic/X{s}/{stem}x{s}.png` or bicubic downscaling |
//! | `paired` | - | `HR/` and `LR/` with the same file names |
//! | `hr` | - | HR images; LR by bicubic downscaling |
//!
//! Bicubic downscaling is Catmull-Rom (a = -0.5, MATLAB's kernel) with its support widened by
//! the scale (antialiasing, as MATLAB's `imresize`).

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::RgbImage;

use crate::sema::program::Layout;

/// One image of a dataset; for super-resolution data, `image` is the LR input and `high` the HR
/// original.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub image: RgbImage,
    pub high: Option<RgbImage>,
}

/// A problem with a dataset folder, naming the path and what was expected there.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("`{path}` does not exist: a `{layout}` dataset needs it")]
    Missing { path: PathBuf, layout: &'static str },
    #[error("`{path}` holds no images (.png, .jpg, .jpeg)")]
    Empty { path: PathBuf },
    #[error("cannot read `{path}`: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("`{name}` has no partner: it is in `{present}` but not in `{absent}`")]
    Unpaired {
        name: String,
        present: PathBuf,
        absent: PathBuf,
    },
    #[error("`{path}` is {width}x{height}, smaller than the {crop}x{crop} crop")]
    TooSmall {
        path: PathBuf,
        width: u32,
        height: u32,
        crop: u32,
    },
    #[error(
        "`{path}` leads back into `{target}`, a folder already read: its images would count twice"
    )]
    LinkLoop { path: PathBuf, target: PathBuf },
    #[error(
        "`{path}` is named like an image but is not a regular file (a pipe, a socket or a device)"
    )]
    NotAFile { path: PathBuf },
    #[error("`{path}` is {width}x{height}, not a multiple of the {scale}x super-resolution scale")]
    NotDivisible {
        path: PathBuf,
        width: u32,
        height: u32,
        scale: u32,
    },
}

/// The image files of a dataset folder's part (its `trainB/`, `DIV2K_valid_HR/`, ...), or what
/// is wrong with the folder: found before a run, not when a job first reads it.
pub fn part_files(
    root: &Path,
    layout: Layout,
    part: Option<&str>,
) -> Result<Vec<PathBuf>, DataError> {
    image_files(&part_dir(root, layout, part), layout)
}

/// Image files below `dir` (recursively), sorted by their path relative to `dir`.
pub fn image_files(dir: &Path, layout: Layout) -> Result<Vec<PathBuf>, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Missing {
            path: dir.to_path_buf(),
            layout: layout.name(),
        });
    }
    let mut found = Vec::new();
    // Folders by their real path: a link back into one already read (a loop, or a second
    // way to the same images) would multiply the dataset.
    let mut visited = std::collections::BTreeSet::new();
    let real = |d: &Path| {
        std::fs::canonicalize(d).map_err(|e| DataError::Unreadable {
            path: d.to_path_buf(),
            reason: e.to_string(),
        })
    };
    visited.insert(real(dir)?);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| DataError::Unreadable {
            path: d.clone(),
            reason: e.to_string(),
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                let target = real(&path)?;
                if !visited.insert(target.clone()) {
                    return Err(DataError::LinkLoop { path, target });
                }
                stack.push(path);
            } else if crate::metrics::image::is_image_file(&path) {
                // Reading a FIFO named `x.png` would wait for ever.
                if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                    return Err(DataError::NotAFile { path });
                }
                found.push(path);
            }
        }
    }
    if found.is_empty() {
        return Err(DataError::Empty {
            path: dir.to_path_buf(),
        });
    }
    found.sort();
    Ok(found)
}

fn open(path: &Path) -> Result<RgbImage, DataError> {
    image::open(path)
        .map(|i| i.to_rgb8())
        .map_err(|e| DataError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// The folder of a part (or the dataset's own folder).
fn part_dir(root: &Path, layout: Layout, part: Option<&str>) -> PathBuf {
    match (layout, part) {
        (Layout::Cyclegan, Some(p)) => root.join(p),
        (Layout::Div2k, Some(p)) => root.join(format!("DIV2K_{p}_HR")),
        (Layout::Paired, _) => root.join("HR"),
        _ => root.to_path_buf(),
    }
}

/// Bicubic (Catmull-Rom, antialiased) downscaling by `scale`.
pub fn downscale(image: &RgbImage, scale: u32) -> RgbImage {
    imageops::resize(
        image,
        image.width() / scale,
        image.height() / scale,
        FilterType::CatmullRom,
    )
}

/// The reference implementations' test-time preprocessing: resize to `load` x `load`, then
/// crop the centre `crop` x `crop` (either optional).
pub fn resize_and_crop(
    image: RgbImage,
    load: Option<u32>,
    crop: Option<u32>,
    path: &Path,
) -> Result<RgbImage, DataError> {
    let image = match load {
        Some(l) => imageops::resize(&image, l, l, FilterType::CatmullRom),
        None => image,
    };
    let Some(c) = crop else {
        return Ok(image);
    };
    let (w, h) = image.dimensions();
    if w < c || h < c {
        return Err(DataError::TooSmall {
            path: path.to_path_buf(),
            width: w,
            height: h,
            crop: c,
        });
    }
    Ok(imageops::crop_imm(&image, (w - c) / 2, (h - c) / 2, c, c).to_image())
}

/// Reads a folder dataset (or one part of it). `scale` is set for super-resolution layouts.
pub fn read(
    root: &Path,
    layout: Layout,
    part: Option<&str>,
    scale: Option<u32>,
    limit: Option<u64>,
) -> Result<Vec<Sample>, DataError> {
    let dir = part_dir(root, layout, part);
    let mut files = image_files(&dir, layout)?;
    if let Some(n) = limit {
        files.truncate(n as usize);
    }
    let mut samples = Vec::with_capacity(files.len());
    for path in files {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let image = open(&path)?;
        let sample = match (layout.has_high_resolution(), scale) {
            (true, Some(s)) => {
                let (w, h) = image.dimensions();
                if w % s != 0 || h % s != 0 {
                    return Err(DataError::NotDivisible {
                        path,
                        width: w,
                        height: h,
                        scale: s,
                    });
                }
                let low = match low_resolution_file(root, layout, part, &path, s) {
                    Some(lr) if lr.exists() => open(&lr)?,
                    Some(lr) if layout == Layout::Paired => {
                        return Err(DataError::Unpaired {
                            name,
                            present: dir.clone(),
                            absent: lr.parent().map(Path::to_path_buf).unwrap_or_default(),
                        })
                    }
                    _ => downscale(&image, s),
                };
                Sample {
                    name,
                    image: low,
                    high: Some(image),
                }
            }
            _ => Sample {
                name,
                image,
                high: None,
            },
        };
        samples.push(sample);
    }
    Ok(samples)
}

/// Where a layout keeps the LR partner of an HR file, if anywhere.
fn low_resolution_file(
    root: &Path,
    layout: Layout,
    part: Option<&str>,
    hr: &Path,
    scale: u32,
) -> Option<PathBuf> {
    let file = hr.file_name()?;
    match layout {
        Layout::Paired => Some(root.join("LR").join(file)),
        Layout::Div2k => {
            let stem = hr.file_stem()?.to_string_lossy();
            let ext = hr.extension()?.to_string_lossy();
            Some(
                root.join(format!("DIV2K_{}_LR_bicubic", part?))
                    .join(format!("X{scale}"))
                    .join(format!("{stem}x{scale}.{ext}")),
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, w: u32, h: u32, shade: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([shade, (x * 3) as u8, (y * 5) as u8])
        })
        .save(path)
        .unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("heist-folder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn cyclegan_parts_and_plain_folders() {
        let root = scratch("cyclegan");
        write(&root.join("trainA/b.png"), 8, 8, 1);
        write(&root.join("trainA/a.png"), 8, 8, 2);
        write(&root.join("testB/sub/c.jpg"), 8, 8, 3);
        std::fs::write(root.join("trainA/notes.txt"), "not an image").unwrap();
        let a = read(&root, Layout::Cyclegan, Some("trainA"), None, None).unwrap();
        assert_eq!(
            a.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["a.png", "b.png"]
        );
        let b = read(&root, Layout::Cyclegan, Some("testB"), None, None).unwrap();
        assert_eq!(b[0].name, "sub/c.jpg");
        assert_eq!(
            read(&root, Layout::Plain, None, None, Some(2))
                .unwrap()
                .len(),
            2
        );
        let missing = read(&root, Layout::Cyclegan, Some("testA"), None, None).unwrap_err();
        assert!(
            missing.to_string().contains("testA` does not exist"),
            "{missing}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn super_resolution_layouts_pair_low_and_high_resolution() {
        let root = scratch("sr");
        write(&root.join("DIV2K_train_HR/0001.png"), 16, 12, 10);
        write(&root.join("DIV2K_train_HR/0002.png"), 16, 12, 20);
        write(&root.join("DIV2K_train_LR_bicubic/X4/0001x4.png"), 4, 3, 99);
        let samples = read(&root, Layout::Div2k, Some("train"), Some(4), None).unwrap();
        assert_eq!(
            samples[0].image.get_pixel(0, 0).0[0],
            99,
            "the provided LR file is used"
        );
        assert_eq!(
            samples[1].image.dimensions(),
            (4, 3),
            "missing LR: bicubic x4"
        );
        assert_eq!(samples[1].high.as_ref().unwrap().dimensions(), (16, 12));

        let pairs = scratch("paired");
        write(&pairs.join("HR/x.png"), 8, 8, 1);
        write(&pairs.join("HR/y.png"), 8, 8, 1);
        write(&pairs.join("LR/x.png"), 2, 2, 1);
        let error = read(&pairs, Layout::Paired, None, Some(4), None).unwrap_err();
        assert!(
            error.to_string().contains("`y.png` has no partner"),
            "{error}"
        );

        write(&root.join("odd/z.png"), 10, 8, 1);
        let error = read(&root.join("odd"), Layout::Hr, None, Some(4), None).unwrap_err();
        assert!(
            error.to_string().contains("not a multiple of the 4x"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::remove_dir_all(&pairs);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_back_into_the_folder_and_a_pipe_named_png_are_refused() {
        let root = scratch("loop");
        write(&root.join("a.png"), 8, 8, 10);
        std::os::unix::fs::symlink(&root, root.join("again")).unwrap();
        match image_files(&root, Layout::Plain) {
            Err(DataError::LinkLoop { path, .. }) => assert!(path.ends_with("again")),
            other => panic!("{other:?}"),
        }
        std::fs::remove_file(root.join("again")).unwrap();
        assert_eq!(image_files(&root, Layout::Plain).unwrap().len(), 1);
        let fifo = root.join("b.png");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            assert!(matches!(
                image_files(&root, Layout::Plain),
                Err(DataError::NotAFile { .. })
            ));
        }
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn crops_need_big_enough_images() {
        let image = RgbImage::new(30, 20);
        let path = Path::new("small.png");
        assert_eq!(
            resize_and_crop(image.clone(), None, Some(16), path)
                .unwrap()
                .dimensions(),
            (16, 16)
        );
        assert_eq!(
            resize_and_crop(image.clone(), Some(40), Some(32), path)
                .unwrap()
                .dimensions(),
            (32, 32)
        );
        let error = resize_and_crop(image, None, Some(24), path).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("30x20, smaller than the 24x24 crop"),
            "{error}"
        );
    }
}
