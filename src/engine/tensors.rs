//! Images to tensors and back: RGB bytes become `[batch, 3, height, width]` floats in [-1, 1]
//! (the reference implementations' `Normalize(0.5, 0.5)`), and outputs are rounded back.

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

/// A batch of same-sized images.
pub fn to_tensor(images: &[&RgbImage], device: &Device) -> Tensor<4> {
    let (w, h) = images[0].dimensions();
    let (w, h) = (w as usize, h as usize);
    let mut values = vec![0f32; images.len() * 3 * h * w];
    for (b, image) in images.iter().enumerate() {
        assert_eq!(
            image.dimensions(),
            (w as u32, h as u32),
            "one size per batch"
        );
        let base = b * 3 * h * w;
        for (i, p) in image.pixels().enumerate() {
            for c in 0..3 {
                values[base + c * h * w + i] = p[c] as f32 / 127.5 - 1.0;
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [images.len(), 3, h, w]), device)
}

/// The images of a `[batch, 3, height, width]` tensor in [-1, 1].
pub fn to_images(tensor: Tensor<4>) -> Vec<RgbImage> {
    let [batch, channels, h, w] = tensor.dims();
    assert_eq!(channels, 3, "RGB output");
    let data = tensor.into_data().convert::<f32>();
    let values = data.as_slice::<f32>().expect("f32 tensor");
    (0..batch)
        .map(|b| {
            let base = b * 3 * h * w;
            RgbImage::from_fn(w as u32, h as u32, |x, y| {
                let i = y as usize * w + x as usize;
                image::Rgb(std::array::from_fn(|c| {
                    ((values[base + c * h * w + i] + 1.0) * 127.5)
                        .round()
                        .clamp(0.0, 255.0) as u8
                }))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_survive_the_round_trip() {
        let image = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 50, y as u8 * 90, 255]));
        let back = to_images(to_tensor(&[&image, &image], &Device::flex()));
        assert_eq!(back, vec![image.clone(), image]);
    }
}
