//! What heist's own kernels on flex (convolutions, normalisation, activations) share: which
//! tensors they take, their values, and parallel loops over the `[h, w]` planes of
//! `[n, c, h, w]` values.
//!
//! Every plane is handled whole by one task, so per-plane results do not depend on the number
//! of threads.

use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Device, Tensor};
use std::mem::MaybeUninit;

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
    new_in_chunks(inputs[0].len(), s, min_planes(s), |p, out| {
        f(p, out, inputs.map(|v| &v[p * s..(p + 1) * s]))
    })
}

/// A new array of `len` values in chunks of `chunk` (the last may be shorter), at least
/// `min_chunks` per task: each chunk is zeroed and then written by `f(i, chunk i)` on the
/// thread that writes it, in parallel.
///
/// Why: `vec![0.0; len]` zeroes the whole array on one thread before the parallel loop, a
/// pass over memory that left the other core idle before every kernel.
pub fn new_in_chunks(
    len: usize,
    chunk: usize,
    min_chunks: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .with_min_len(min_chunks.max(1))
        .for_each(|(i, values)| {
            values.fill(MaybeUninit::new(0.0));
            // SAFETY: every value of the chunk was initialised on the line above.
            f(i, unsafe {
                &mut *(values as *mut [MaybeUninit<f32>] as *mut [f32])
            })
        });
    // SAFETY: the chunks cover the first `len` values, and each was initialised.
    unsafe { out.set_len(len) };
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
    let (s, i) = (out_pixels.max(1), in_pixels.max(1));
    new_in_chunks(x.len() / i * s, s, min_planes(s), |p, out| {
        f(&x[p * i..(p + 1) * i], out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_arrays_are_zeroed_and_written_chunk_by_chunk() {
        let numbered = new_in_chunks(10, 4, 1, |i, chunk| {
            chunk[..i].fill(i as f32 + 1.0);
        });
        assert_eq!(numbered, [0., 0., 0., 0., 2., 0., 0., 0., 3., 3.]);
        assert_eq!(
            new_in_chunks(0, 4, 1, |_, _| unreachable!()),
            Vec::<f32>::new()
        );
    }
}
