//! Images for people and programs: grids with one row per example and one column per model
//! (input | victim | surrogate), smaller images (SR inputs) enlarged by pixel repetition; PNG
//! encoding and atomic PNG files.

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{Rgb, RgbImage};

/// `rows[r][c]` laid out with a 2-pixel white gap; every cell takes the largest cell's size.
pub fn grid(rows: &[Vec<&RgbImage>]) -> RgbImage {
    let gap = 2u32;
    let cell = rows
        .iter()
        .flatten()
        .map(|i| i.width().max(i.height()))
        .max()
        .unwrap_or(1);
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let mut out = RgbImage::from_pixel(
        columns * (cell + gap) + gap,
        rows.len() as u32 * (cell + gap) + gap,
        Rgb([255, 255, 255]),
    );
    for (r, row) in rows.iter().enumerate() {
        for (c, image) in row.iter().enumerate() {
            let scaled;
            let image = if image.dimensions() == (cell, cell) {
                *image
            } else {
                scaled = imageops::resize(*image, cell, cell, FilterType::Nearest);
                &scaled
            };
            let x = gap + c as u32 * (cell + gap);
            let y = gap + r as u32 * (cell + gap);
            imageops::replace(&mut out, image, x as i64, y as i64);
        }
    }
    out
}

/// PNG bytes of an image.
pub fn png_bytes(image: &RgbImage) -> Vec<u8> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("PNG encoding to memory");
    bytes.into_inner()
}

/// Writes `image` as a PNG file, atomically.
pub fn write_png(path: &Path, image: &RgbImage) -> std::io::Result<()> {
    crate::fsutil::write_atomic(path, &png_bytes(image))
}
