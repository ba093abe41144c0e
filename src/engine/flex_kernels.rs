//! What heist's own kernels on flex (convolutions, normalisation, activations) share: which
//! tensors they take, their values, and parallel loops over the `[h, w]` planes of
//! `[n, c, h, w]` values.
//!
//! Every plane is handled whole by one task, so per-plane results do not depend on the number
//! of threads.

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Device, Tensor};
use rayon::prelude::*;

/// Whether heist's kernels take `x`: f32 values on flex (with or without autodiff).
pub fn applies(x: &Tensor<4>) -> bool {
    x.device().without_autodiff() == Device::flex() && x.dtype() == DType::F32
}

/// `t` with contiguous f32 values, for `storage::<f32>()`.
pub fn f32_values(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "heist's kernels run on f32");
    t.to_contiguous()
}

/// At least this many values per parallel task: planes of 1x1 pixels are not worth a task each.
const MIN_TASK: usize = 1 << 12;

fn min_planes(pixels: usize) -> usize {
    MIN_TASK.div_ceil(pixels)
}

/// `f(p, planes p of inputs)` for every plane `p` of `pixels` values, in parallel, in plane
/// order.
pub fn map_planes<const N: usize, T: Send>(
    pixels: usize,
    inputs: [&[f32]; N],
    f: impl Fn(usize, [&[f32]; N]) -> T + Sync,
) -> Vec<T> {
    let s = pixels.max(1);
    (0..inputs[0].len() / s)
        .into_par_iter()
        .with_min_len(min_planes(s))
        .map(|p| f(p, inputs.map(|v| &v[p * s..(p + 1) * s])))
        .collect()
}

/// A new array whose plane `p` is written by `f(p, it, planes p of inputs)`, in parallel.
pub fn fill_planes<const N: usize>(
    pixels: usize,
    inputs: [&[f32]; N],
    f: impl Fn(usize, &mut [f32], [&[f32]; N]) + Sync,
) -> Vec<f32> {
    let s = pixels.max(1);
    let mut out = vec![0.0f32; inputs[0].len()];
    out.par_chunks_mut(s)
        .enumerate()
        .with_min_len(min_planes(s))
        .for_each(|(p, out)| f(p, out, inputs.map(|v| &v[p * s..(p + 1) * s])));
    out
}

/// A new array whose plane `p` of `out_pixels` values `f(plane p of x, it)` writes, from `x`'s
/// planes of `in_pixels` values (a different size: padding, cropping), in parallel.
pub fn resize_planes(
    x: &[f32],
    in_pixels: usize,
    out_pixels: usize,
    f: impl Fn(&[f32], &mut [f32]) + Sync,
) -> Vec<f32> {
    let (s, planes) = (out_pixels.max(1), x.len() / in_pixels.max(1));
    let mut out = vec![0.0f32; planes * s];
    out.par_chunks_mut(s)
        .zip(x.par_chunks(in_pixels.max(1)))
        .with_min_len(min_planes(s))
        .for_each(|(out, x)| f(x, out));
    out
}
