//! Image grids for people to look at: one row per example, one column per model
//! (input | victim | surrogate), smaller images (SR inputs) enlarged by pixel repetition.

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
