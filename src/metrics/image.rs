//! Reading 8-bit images (PNG, JPEG; grayscale or RGB) into planes of f64 in [0, 255], and
//! pairing two folders by file name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::MetricError;

/// An image as planes of f64 values in [0, 255]: one plane (grayscale) or three (R, G, B).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    /// Channel-major: `planes[c][y * width + x]`.
    pub planes: Vec<Vec<f64>>,
}

impl Image {
    pub fn channels(&self) -> usize {
        self.planes.len()
    }

    pub fn describe_channels(&self) -> &'static str {
        if self.channels() == 1 {
            "grayscale"
        } else {
            "RGB"
        }
    }
}

/// An image with what was done to it on loading (alpha dropped, 16 bits scaled).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub image: Image,
    pub notes: Vec<String>,
}

/// File extensions heist reads as images.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Loads an image; 16-bit images are scaled to 0-255 (value / 257) and alpha is dropped, each
/// with a note.
pub fn load(path: &Path) -> Result<Loaded, MetricError> {
    let unreadable = |reason: String| MetricError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let reader = ::image::ImageReader::open(path)
        .map_err(|e| unreadable(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| unreadable(e.to_string()))?;
    let decoded = reader
        .decode()
        .map_err(|e| unreadable(describe_decode_error(&e)))?;
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let name = path.display();
    let mut notes = Vec::new();
    use ::image::ColorType as C;
    let color = decoded.color();
    if color.has_alpha() {
        notes.push(format!("{name}: alpha channel ignored"));
    }
    let sixteen = matches!(color, C::L16 | C::La16 | C::Rgb16 | C::Rgba16);
    let float = matches!(color, C::Rgb32F | C::Rgba32F);
    if sixteen {
        notes.push(format!(
            "{name}: 16-bit image scaled to 0-255 (value / 257)"
        ));
    }
    if float {
        notes.push(format!("{name}: floating-point image scaled to 0-255"));
    }
    let gray = matches!(color, C::L8 | C::La8 | C::L16 | C::La16);
    let planes = if !gray && !sixteen && !float {
        Image::from_rgb(&decoded.to_rgb8()).planes
    } else if gray {
        let plane: Vec<f64> = if sixteen {
            decoded
                .to_luma16()
                .pixels()
                .map(|p| p.0[0] as f64 / 257.0)
                .collect()
        } else {
            decoded.to_luma8().pixels().map(|p| p.0[0] as f64).collect()
        };
        vec![plane]
    } else {
        // 16-bit or floating point RGB.
        let mut planes: Vec<Vec<f64>> =
            (0..3).map(|_| Vec::with_capacity(width * height)).collect();
        for p in decoded.to_rgb16().pixels() {
            for (plane, v) in planes.iter_mut().zip(p.0) {
                plane.push(v as f64 / 257.0);
            }
        }
        planes
    };
    Ok(Loaded {
        image: Image {
            width,
            height,
            planes,
        },
        notes,
    })
}

fn describe_decode_error(e: &::image::ImageError) -> String {
    match e {
        ::image::ImageError::Unsupported(_) => format!("not an image heist can read ({e})"),
        ::image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the file is truncated".into()
        }
        _ => format!("the image is corrupt or truncated ({e})"),
    }
}

/// The image files of a folder (not recursive), by file name.
pub fn list_images(dir: &Path) -> Result<BTreeMap<String, PathBuf>, MetricError> {
    let entries = std::fs::read_dir(dir).map_err(|e| MetricError::Unreadable {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut files = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() && is_image_file(&path) {
            files.insert(entry.file_name().to_string_lossy().into_owned(), path);
        }
    }
    if files.is_empty() {
        return Err(MetricError::Empty {
            path: dir.to_path_buf(),
        });
    }
    Ok(files)
}

/// Pairs the images of two folders by identical file names; any unpaired file is an error.
pub fn pair_folders(
    reference: &Path,
    test: &Path,
) -> Result<Vec<(String, PathBuf, PathBuf)>, MetricError> {
    let a = list_images(reference)?;
    let b = list_images(test)?;
    let only_ref: Vec<String> = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    let only_test: Vec<String> = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    if !only_ref.is_empty() || !only_test.is_empty() {
        return Err(MetricError::Unpaired {
            only_ref,
            only_test,
        });
    }
    Ok(a.into_iter()
        .map(|(name, path)| {
            let other = b[&name].clone();
            (name, path, other)
        })
        .collect())
}

impl Image {
    /// An 8-bit RGB image as three planes.
    pub fn from_rgb(image: &::image::RgbImage) -> Image {
        let planes = (0..3)
            .map(|c| image.pixels().map(|p| p[c] as f64).collect())
            .collect();
        Image {
            width: image.width() as usize,
            height: image.height() as usize,
            planes,
        }
    }
}
