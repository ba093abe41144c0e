//! burn building blocks shared by the metrics' Inception v3 and the engine's networks.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::Device;

/// A convolution with `[input, output]` channels, a `[height, width]` kernel, one stride for
/// both axes and `[vertical, horizontal]` zero padding (PyTorch's `Conv2d` arguments).
pub fn conv2d(
    device: &Device,
    channels: [usize; 2],
    kernel: [usize; 2],
    stride: usize,
    padding: [usize; 2],
    bias: bool,
) -> Conv2d {
    Conv2dConfig::new(channels, kernel)
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding[0], padding[1], padding[0], padding[1],
        ))
        .with_bias(bias)
        .init(device)
}
