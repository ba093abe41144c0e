//! A 2-D convolution and its two gradients on contiguous NCHW `f32` values, as PyTorch's CPU
//! fallback computes them: one im2col (or col2im) per image and one large matrix product.
//!
//! burn's generic backward instead runs the weight gradient as a convolution whose "kernel"
//! is the whole output gradient (64 gemms of 64x9 outputs, each with its own im2col) and the
//! input gradient as a transposed convolution; both spend most of their time packing and
//! copying (docs/engine.md, "Speed").
//!
//! Parallelism: one image per task (its im2col, products and col2im on one thread), which
//! keeps the tasks coarse on two cores; large im2col matrices are cut into tiles of output rows
//! that stay in cache.
//!
//! Determinism: each product sums over its depth in one fixed order on one thread, and the
//! weight gradient adds its per-image parts in image order, so the results do not depend on
//! the number of threads.

use std::ops::Range;

use rayon::prelude::*;

use crate::engine::flex_kernels::new_in_chunks;

/// A convolution's geometry (groups 1, dilation 1, the same padding on both sides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub batch: usize,
    pub channels_in: usize,
    pub channels_out: usize,
    /// Input height and width.
    pub input: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
}

impl Geometry {
    pub fn output(&self) -> [usize; 2] {
        std::array::from_fn(|d| {
            (self.input[d] + 2 * self.padding[d] - self.kernel[d]) / self.stride[d] + 1
        })
    }

    /// Rows of the im2col matrix: input channels x kernel positions.
    fn rows(&self) -> usize {
        self.channels_in * self.kernel[0] * self.kernel[1]
    }

    /// Images with fewer output pixels than [`small::PIXELS`] are computed together.
    fn small(&self) -> bool {
        self.pixels_out() < small::PIXELS
    }

    fn pixels_out(&self) -> usize {
        let [ho, wo] = self.output();
        ho * wo
    }

    fn pixels_in(&self) -> usize {
        self.input[0] * self.input[1]
    }

    /// The input's height and width with its padding.
    fn padded(&self) -> [usize; 2] {
        std::array::from_fn(|d| self.input[d] + 2 * self.padding[d])
    }

    /// `[n, ci, h, w]`
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.channels_in, self.input[0], self.input[1]]
    }

    /// `[n, co, ho, wo]`
    pub fn output_shape(&self) -> [usize; 4] {
        let [ho, wo] = self.output();
        [self.batch, self.channels_out, ho, wo]
    }

    /// `[co, ci, kh, kw]`
    pub fn weight_shape(&self) -> [usize; 4] {
        [
            self.channels_out,
            self.channels_in,
            self.kernel[0],
            self.kernel[1],
        ]
    }

    /// Values per image of the input and of the output.
    fn image_sizes(&self) -> (usize, usize) {
        (
            self.channels_in * self.pixels_in(),
            self.channels_out * self.pixels_out(),
        )
    }

    /// Checks the lengths of what a kernel was given against the geometry.
    fn check(&self, x: Option<&[f32]>, weight: Option<&[f32]>, y: Option<&[f32]>) {
        let (in_image, out_image) = self.image_sizes();
        let sizes = [
            (x, self.batch * in_image, "input"),
            (weight, self.channels_out * self.rows(), "weight"),
            (y, self.batch * out_image, "output gradient"),
        ];
        for (values, len, what) in sizes {
            if let Some(v) = values {
                assert_eq!(v.len(), len, "{what} size");
            }
        }
    }
}

/// Output rows per tile: the im2col matrix of a tile stays near 1 MB (in cache), however
/// large the kernel or the image.
fn tiles(g: &Geometry) -> impl Iterator<Item = Range<usize>> {
    let [ho, wo] = g.output();
    let per_tile = ((1 << 18) / (g.rows() * wo)).clamp(1, ho);
    (0..ho.div_ceil(per_tile)).map(move |t| t * per_tile..((t + 1) * per_tile).min(ho))
}

/// Values in the im2col matrix of the largest tile.
fn tile_len(g: &Geometry) -> usize {
    tiles(g).map(|t| t.len()).max().unwrap_or(0) * g.output()[1] * g.rows()
}

/// `[.., h, w]` planes placed at `[top, left]` in zero planes of `[hp, wp]`.
fn embed(x: &[f32], [h, w]: [usize; 2], [hp, wp]: [usize; 2], [top, left]: [usize; 2]) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len() / (h * w).max(1) * hp * wp];
    for (x, out) in x.chunks(h * w).zip(out.chunks_mut(hp * wp)) {
        for r in 0..h {
            out[(r + top) * wp + left..][..w].copy_from_slice(&x[r * w..][..w]);
        }
    }
    out
}

/// The inverse of [`embed`]: the `[h, w]` window at `[top, left]` of each `[hp, wp]` plane.
fn extract(
    xp: &[f32],
    [hp, wp]: [usize; 2],
    [h, w]: [usize; 2],
    [top, left]: [usize; 2],
    x: &mut [f32],
) {
    for (x, xp) in x.chunks_mut(h * w).zip(xp.chunks(hp * wp)) {
        for r in 0..h {
            x[r * w..][..w].copy_from_slice(&xp[(r + top) * wp + left..][..w]);
        }
    }
}

/// One image `[ci, h, w]` zero-padded by the convolution's padding: `[ci, hp, wp]`. im2col
/// and col2im work on padded images, so that every kernel position reads (or writes) whole
/// rows of output pixels, with no bounds to work out and no zeros to write.
fn padded(x: &[f32], g: &Geometry) -> Vec<f32> {
    embed(x, g.input, g.padded(), g.padding)
}

/// `dst[o] = src[o * stride]`. Plain loops: rows are short (a few pixels for small images), too
/// short for a call to memcpy to pay, and the stride-2 loop vectorises as a de-interleave.
#[inline(always)]
fn gather(dst: &mut [f32], src: &[f32], stride: usize) {
    match stride {
        1 => dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s),
        2 => dst
            .iter_mut()
            .zip(src.chunks(2))
            .for_each(|(d, s)| *d = s[0]),
        _ => dst
            .iter_mut()
            .zip(src.iter().step_by(stride))
            .for_each(|(d, s)| *d = *s),
    }
}

/// `dst[o * stride] += src[o]`, the inverse of [`gather`].
#[inline(always)]
fn scatter_add(dst: &mut [f32], src: &[f32], stride: usize) {
    match stride {
        1 => dst.iter_mut().zip(src).for_each(|(d, s)| *d += s),
        2 => dst.chunks_mut(2).zip(src).for_each(|(d, s)| d[0] += s),
        _ => dst
            .iter_mut()
            .step_by(stride)
            .zip(src)
            .for_each(|(d, s)| *d += s),
    }
}

/// `cols[(c, i, j), (oh, ow)] = xp[c, oh*s + i, ow*s + j]` for the im2col rows `rows` and the
/// output rows `tile` of one padded image `xp`; the rows of `cols` (from `rows.start`) are
/// `ld` apart.
fn im2col(
    xp: &[f32],
    g: &Geometry,
    tile: &Range<usize>,
    rows: Range<usize>,
    cols: &mut [f32],
    ld: usize,
) {
    let ([hp, wp], [kh, kw], [sh, sw], wo) = (g.padded(), g.kernel, g.stride, g.output()[1]);
    for (r, row) in rows.enumerate() {
        let out = &mut cols[r * ld..][..tile.len() * wo];
        let c = row / (kh * kw);
        let (i, j) = ((row / kw) % kh, row % kw);
        for (local, oh) in tile.clone().enumerate() {
            let src = &xp[(c * hp + oh * sh + i) * wp + j..][..(wo - 1) * sw + 1];
            gather(&mut out[local * wo..][..wo], src, sw);
        }
    }
}

/// The inverse scatter of [`im2col`]: `dxp[c, ...] += cols[(c, i, j), ...]` into one padded
/// image for the output rows `tile`, the rows of `cols` `ld` apart. Each channel is summed by
/// one thread, kernel positions in order.
fn col2im(cols: &[f32], g: &Geometry, tile: &Range<usize>, dxp: &mut [f32], ld: usize) {
    let ([hp, wp], [kh, kw], [sh, sw], wo) = (g.padded(), g.kernel, g.stride, g.output()[1]);
    for (c, plane) in dxp.chunks_mut(hp * wp).enumerate() {
        for i in 0..kh {
            for j in 0..kw {
                let row = &cols[((c * kh + i) * kw + j) * ld..][..tile.len() * wo];
                for (local, oh) in tile.clone().enumerate() {
                    let dst = &mut plane[(oh * sh + i) * wp + j..][..(wo - 1) * sw + 1];
                    scatter_add(dst, &row[local * wo..][..wo], sw);
                }
            }
        }
    }
}

/// The interior of padded images `[.., hp, wp]`: the `[.., h, w]` values without the padding.
fn crop(xp: &[f32], g: &Geometry, x: &mut [f32]) {
    extract(xp, g.padded(), g.input, g.padding, x)
}

/// `dst = (accumulate ? dst : 0) + lhs * rhs` for row-major strided operands.
#[allow(clippy::too_many_arguments)]
fn matmul(
    [m, n, k]: [usize; 3],
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    [lhs_rs, lhs_cs]: [isize; 2],
    rhs: &[f32],
    [rhs_rs, rhs_cs]: [isize; 2],
) {
    assert!(m == 0 || dst.len() >= (m - 1) * dst_rs + n);
    // SAFETY: the operands are slices at least as large as the strides reach (checked by the
    // callers' shapes); dst does not alias lhs or rhs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// The convolution itself: `[n, co, ho, wo]` from `x` `[n, ci, h, w]` and `weight`
/// `[co, ci, kh, kw]` (no bias).
pub fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
    g.check(Some(x), Some(weight), None);
    if thin::applies(g) {
        return thin::forward(x, weight, g);
    }
    if g.small() {
        return small::forward(x, weight, g);
    }
    let ((rows, p), (in_image, out_image)) = ((g.rows(), g.pixels_out()), g.image_sizes());
    let wo = g.output()[1];
    new_in_chunks(g.batch * out_image, out_image, 1, |b, y| {
        let xp = padded(&x[b * in_image..][..in_image], g);
        let mut cols = vec![0.0f32; tile_len(g)];
        for tile in tiles(g) {
            let n = tile.len() * wo;
            im2col(&xp, g, &tile, 0..rows, &mut cols, n);
            // y_b[co, tile] = weight[co, rows] * cols[rows, tile]
            matmul(
                [g.channels_out, n, rows],
                &mut y[tile.start * wo..],
                p,
                false,
                weight,
                [rows as isize, 1],
                &cols,
                [n as isize, 1],
            );
        }
    })
}

/// The weight gradient `[co, ci, kh, kw]` of a convolution of `x` `[n, ci, h, w]` whose output
/// gradient is `grad` `[n, co, ho, wo]`.
pub fn weight_grad(x: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
    g.check(Some(x), None, Some(grad));
    if thin::applies(g) {
        return thin::weight_grad(x, grad, g);
    }
    if g.small() {
        return small::weight_grad(x, grad, g);
    }
    let ((rows, p), (in_image, out_image)) = ((g.rows(), g.pixels_out()), g.image_sizes());
    let wo = g.output()[1];
    let len = g.channels_out * rows;
    let mut parts = vec![0.0f32; g.batch * len];
    parts.par_chunks_mut(len).enumerate().for_each(|(b, dw)| {
        let xp = padded(&x[b * in_image..][..in_image], g);
        let mut cols = vec![0.0f32; tile_len(g)];
        for (t, tile) in tiles(g).enumerate() {
            let n = tile.len() * wo;
            im2col(&xp, g, &tile, 0..rows, &mut cols, n);
            // dw[co, rows] += grad_b[co, tile] * cols[rows, tile]^T
            matmul(
                [g.channels_out, rows, n],
                dw,
                rows,
                t > 0,
                &grad[b * out_image + tile.start * wo..],
                [p as isize, 1],
                &cols,
                [1, n as isize],
            );
        }
    });
    add_up_images(&parts, len)
}

/// The sum of the batch's per-image parts (`len` values each), added in image order so that
/// it does not depend on which thread computed which part.
fn add_up_images(parts: &[f32], len: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; len];
    for part in parts.chunks(len.max(1)) {
        sum.iter_mut().zip(part).for_each(|(s, p)| *s += p);
    }
    sum
}

/// With stride 1, the input gradient is itself a convolution: the output gradient, padded by
/// `k - 1 - p`, correlated with the weights flipped in space and with their channels swapped.
/// As a forward pass its product sums over `co x kh x kw` (not over `co` alone, which would
/// write a `ci x kh x kw` row per pixel for col2im to scatter back), which is what makes
/// layers with few output channels (the 9x9 and 7x7 output layers) fast. With more output
/// than input channels (the input layers, the upsamplers) the scatter is the smaller product.
fn as_full_convolution(weight: &[f32], g: &Geometry) -> Option<(Vec<f32>, Geometry)> {
    let [kh, kw] = g.kernel;
    let fits = (0..2).all(|d| g.stride[d] == 1 && g.padding[d] < g.kernel[d]);
    if !fits || g.channels_out > g.channels_in {
        return None;
    }
    let (ci, co) = (g.channels_in, g.channels_out);
    let mut flipped = vec![0.0f32; weight.len()];
    for o in 0..co {
        for c in 0..ci {
            for i in 0..kh {
                for j in 0..kw {
                    flipped[((c * co + o) * kh + i) * kw + j] =
                        weight[((o * ci + c) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)];
                }
            }
        }
    }
    let full = Geometry {
        batch: g.batch,
        channels_in: co,
        channels_out: ci,
        input: g.output(),
        kernel: g.kernel,
        stride: [1, 1],
        padding: [kh - 1 - g.padding[0], kw - 1 - g.padding[1]],
    };
    Some((flipped, full))
}

/// The input gradient `[n, ci, h, w]` of a convolution with `weight` `[co, ci, kh, kw]` whose
/// output gradient is `grad` `[n, co, ho, wo]`.
pub fn input_grad(weight: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
    g.check(None, Some(weight), Some(grad));
    if let Some((flipped, g)) = as_full_convolution(weight, g) {
        return forward(grad, &flipped, &g);
    }
    if g.small() {
        return small::input_grad(weight, grad, g);
    }
    let ((rows, p), (in_image, out_image)) = ((g.rows(), g.pixels_out()), g.image_sizes());
    let wo = g.output()[1];
    new_in_chunks(g.batch * in_image, in_image, 1, |b, dx| {
        let [hp, wp] = g.padded();
        let mut dxp = vec![0.0f32; g.channels_in * hp * wp];
        let mut cols = vec![0.0f32; tile_len(g)];
        for tile in tiles(g) {
            let n = tile.len() * wo;
            // cols[rows, tile] = weight[co, rows]^T * grad_b[co, tile]
            matmul(
                [rows, n, g.channels_out],
                &mut cols,
                n,
                false,
                weight,
                [1, rows as isize],
                &grad[b * out_image + tile.start * wo..],
                [p as isize, 1],
            );
            col2im(&cols, g, &tile, &mut dxp, n);
        }
        crop(&dxp, g, dx);
    })
}

/// Small images (Pix2Pix's innermost levels, PatchGAN's last layers): one product for the
/// whole batch, its columns every image's im2col matrix side by side. Per image, a product of
/// so few columns would be little more than a matrix-vector product (one column at 1x1).
///
/// The products are split over fixed blocks of output rows (not over the threads there are),
/// so the results do not depend on the number of threads.
mod small {
    use super::*;

    /// Below this many output pixels an image is small.
    pub const PIXELS: usize = 64;

    /// Output rows of a product per parallel task: at least 128 (two of gemm's 64-row
    /// blocks, so that packing the shared operand once per task pays), and at most 16 tasks.
    fn rows_per_task(m: usize) -> usize {
        m.div_ceil(16).next_multiple_of(64).max(128)
    }

    /// `[rows, batch * pixels_out]`: every image's im2col matrix side by side, written in
    /// parallel over blocks of rows.
    fn columns(x: &[f32], g: &Geometry) -> Vec<f32> {
        let (p, (in_image, _)) = (g.pixels_out(), g.image_sizes());
        let n = g.batch * p;
        let images: Vec<Vec<f32>> = (0..g.batch)
            .into_par_iter()
            .map(|b| padded(&x[b * in_image..][..in_image], g))
            .collect();
        let mut cols = vec![0.0f32; g.rows() * n];
        let all = 0..g.output()[0];
        let rows_per_task = ((1 << 14) / n).max(1);
        cols.par_chunks_mut(rows_per_task * n)
            .enumerate()
            .for_each(|(t, block)| {
                let rows = t * rows_per_task..t * rows_per_task + block.len() / n;
                for (b, xp) in images.iter().enumerate() {
                    im2col(xp, g, &all, rows.clone(), &mut block[b * p..], n);
                }
            });
        cols
    }

    /// `[a, b, c]` values as `[b, a, c]`.
    fn swap_outer(v: &[f32], [a, b, c]: [usize; 3]) -> Vec<f32> {
        let mut out = vec![0.0f32; v.len()];
        for i in 0..a {
            for j in 0..b {
                let (src, dst) = (&v[(i * b + j) * c..][..c], &mut out[(j * a + i) * c..][..c]);
                // a plain loop: `copy_from_slice` would call memcpy for every pixel of 1x1 images
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = *s;
                }
            }
        }
        out
    }

    /// `[a, b]` values as `[b, a]`, in tiles that stay in cache (a plain loop would write
    /// one value per cache line), in parallel over blocks of output rows.
    fn transpose(v: &[f32], [a, b]: [usize; 2]) -> Vec<f32> {
        const TILE: usize = 32;
        let mut out = vec![0.0f32; v.len()];
        out.par_chunks_mut(TILE * a)
            .enumerate()
            .for_each(|(t, out)| {
                let j0 = t * TILE;
                for i0 in (0..a).step_by(TILE) {
                    for (j, out) in out.chunks_mut(a).enumerate() {
                        for i in i0..(i0 + TILE).min(a) {
                            out[i] = v[i * b + j0 + j];
                        }
                    }
                }
            });
        out
    }

    /// `out[m, n] = lhs[m, k] * rhs[k, n]` for row-major `out`, `lhs` with strides
    /// `[row, column]`, in parallel over blocks of [`rows_per_task`] rows.
    fn product(
        out: &mut [f32],
        [n, k]: [usize; 2],
        (lhs, [lhs_rs, lhs_cs]): (&[f32], [usize; 2]),
        (rhs, rhs_strides): (&[f32], [usize; 2]),
    ) {
        let strides = |[r, c]: [usize; 2]| [r as isize, c as isize];
        let rpt = rows_per_task(out.len() / n);
        out.par_chunks_mut(rpt * n)
            .enumerate()
            .for_each(|(t, out)| {
                let m = out.len() / n;
                let lhs = &lhs[t * rpt * lhs_rs..];
                let lhs_strides = strides([lhs_rs, lhs_cs]);
                matmul(
                    [m, n, k],
                    out,
                    n,
                    false,
                    lhs,
                    lhs_strides,
                    rhs,
                    strides(rhs_strides),
                );
            });
    }

    pub fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
        let (co, p, rows) = (g.channels_out, g.pixels_out(), g.rows());
        let n = g.batch * p;
        let cols = columns(x, g);
        // y[co, (image, pixel)] = weight[co, rows] * cols[rows, (image, pixel)]
        let mut y = vec![0.0f32; co * n];
        product(&mut y, [n, rows], (weight, [rows, 1]), (&cols, [n, 1]));
        swap_outer(&y, [co, g.batch, p])
    }

    pub fn weight_grad(x: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
        let (co, p, rows) = (g.channels_out, g.pixels_out(), g.rows());
        let n = g.batch * p;
        let cols = columns(x, g);
        let grad = swap_outer(grad, [g.batch, co, p]);
        // Split over output channels, each task packs all of cols again; its transpose, split
        // over the many rows of im2col, writes dw twice. The first costs less where cols has
        // few columns (the innermost levels, 1-4 pixels an image), the second where it has many
        // (3 MB of cols for PatchGAN's 128->256 layer against 0.5 MB of dw).
        if co.div_ceil(rows_per_task(co)) * n < co {
            // dw[co, rows] = grad[co, (image, pixel)] * cols[rows, (image, pixel)]^T
            let mut dw = vec![0.0f32; co * rows];
            product(&mut dw, [rows, n], (&grad, [n, 1]), (&cols, [1, n]));
            return dw;
        }
        let mut dw_t = vec![0.0f32; rows * co];
        product(&mut dw_t, [co, n], (&cols, [n, 1]), (&grad, [1, n]));
        transpose(&dw_t, [rows, co])
    }

    pub fn input_grad(weight: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
        let (co, p, rows) = (g.channels_out, g.pixels_out(), g.rows());
        let n = g.batch * p;
        let grad = swap_outer(grad, [g.batch, co, p]);
        // cols[rows, (image, pixel)] = weight[co, rows]^T * grad[co, (image, pixel)]
        let mut cols = vec![0.0f32; rows * n];
        product(&mut cols, [n, co], (weight, [1, rows]), (&grad, [n, 1]));
        let in_image = g.image_sizes().0;
        let all = 0..g.output()[0];
        new_in_chunks(g.batch * in_image, in_image, 1, |b, dx| {
            let [hp, wp] = g.padded();
            let mut dxp = vec![0.0f32; g.channels_in * hp * wp];
            col2im(&cols[b * p..], g, &all, &mut dxp, n);
            crop(&dxp, g, dx);
        })
    }
}

/// Few output channels at stride 1 (the networks' 9x9 and 7x7 output layers): computed
/// directly from the zero-padded image, without an im2col matrix. There, the matrix (ci x kh x
/// kw rows, 85 MB per 64x64 image for SRResNet's 9x9 layer) costs more to write than the
/// product with its 1-3 rows costs to compute, and gemm's 6-wide microkernel runs half empty.
///
/// Each output (or weight-gradient) value is summed in one fixed order on one thread, with no
/// fused multiply-adds, so the results are the same on every x86 or other CPU, vectorised or not.
mod thin {
    use super::*;

    /// At most this many output channels.
    const CHANNELS: usize = 4;

    /// Output pixels computed together (in registers).
    const LANES: usize = 16;

    pub fn applies(g: &Geometry) -> bool {
        g.stride == [1, 1] && g.channels_out <= CHANNELS
    }

    /// The output pixels in blocks of at most LANES, each as its offset in the frame of the
    /// padded image's width (pixel `(oh, ow)` at `oh * wp + ow`) and its length. At that
    /// offset a kernel position's input values lie in one contiguous run of the padded image.
    ///
    /// Blocks either follow the output rows (the last of each row partial) or run straight
    /// through the frame, over the `kw - 1` pixels past each row's end too (computed and
    /// dropped), whichever takes fewer: the second for small images, whose rows of a few
    /// pixels would leave most lanes empty.
    fn blocks(g: &Geometry) -> Vec<(usize, usize)> {
        let ([ho, wo], wp) = (g.output(), g.padded()[1]);
        let by_rows = ho * wo.div_ceil(LANES);
        let through = (ho - 1) * wp + wo;
        if through.div_ceil(LANES) < by_rows {
            return (0..through)
                .step_by(LANES)
                .map(|q| (q, LANES.min(through - q)))
                .collect();
        }
        (0..ho)
            .flat_map(|oh| {
                (0..wo)
                    .step_by(LANES)
                    .map(move |ow| (oh * wp + ow, LANES.min(wo - ow)))
            })
            .collect()
    }

    /// Values of `[co, ho, wo]` in the frame of the padded width, `[co, ho, wp]`, zero past
    /// each row's end.
    fn to_frame(v: &[f32], g: &Geometry) -> Vec<f32> {
        let ([ho, wo], wp) = (g.output(), g.padded()[1]);
        embed(v, [ho, wo], [ho, wp], [0, 0])
    }

    /// The inverse of [`to_frame`]: each row's first `wo` values.
    fn from_frame(framed: &[f32], g: &Geometry, v: &mut [f32]) {
        let ([ho, wo], wp) = (g.output(), g.padded()[1]);
        extract(framed, [ho, wp], [ho, wo], [0, 0], v)
    }

    /// `$name::<CO>` calls `$any::<CO>` compiled for AVX-512 or AVX2 where the CPU has them
    /// (picked at run time, as gemm picks its kernels), else for the baseline.
    macro_rules! vectorised {
        ($name:ident, $any:ident, $avx512:ident, $avx2:ident, ($($arg:ident: $ty:ty),*)) => {
            fn $name<const CO: usize>($($arg: $ty),*) {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::arch::is_x86_feature_detected!("avx512f") {
                        // SAFETY: the CPU has AVX-512F.
                        return unsafe { $avx512::<CO>($($arg),*) };
                    }
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2.
                        return unsafe { $avx2::<CO>($($arg),*) };
                    }
                }
                $any::<CO>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            unsafe fn $avx512<const CO: usize>($($arg: $ty),*) {
                $any::<CO>($($arg),*)
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn $avx2<const CO: usize>($($arg: $ty),*) {
                $any::<CO>($($arg),*)
            }
        };
    }

    vectorised!(
        forward_image,
        forward_image_any,
        forward_image_avx512,
        forward_image_avx2,
        (xp: &[f32], blocks: &[(usize, usize)], weight: &[f32], g: &Geometry, y: &mut [f32])
    );
    vectorised!(
        weight_grad_image,
        weight_grad_image_any,
        weight_grad_image_avx512,
        weight_grad_image_avx2,
        (xp: &[f32], blocks: &[(usize, usize)], dy: &[f32], g: &Geometry, dw: &mut [f32])
    );

    pub fn forward(x: &[f32], weight: &[f32], g: &Geometry) -> Vec<f32> {
        let blocks = blocks(g);
        let [ho, wp] = [g.output()[0], g.padded()[1]];
        per_image(x, g, g.image_sizes().1, |_, xp, y| {
            let mut framed = vec![0.0f32; g.channels_out * ho * wp];
            let y_framed = &mut framed;
            match g.channels_out {
                1 => forward_image::<1>(xp, &blocks, weight, g, y_framed),
                2 => forward_image::<2>(xp, &blocks, weight, g, y_framed),
                3 => forward_image::<3>(xp, &blocks, weight, g, y_framed),
                _ => forward_image::<4>(xp, &blocks, weight, g, y_framed),
            }
            from_frame(&framed, g, y);
        })
    }

    /// `f(image, its padded values, its out_len outputs)` for every image, in parallel.
    fn per_image(
        x: &[f32],
        g: &Geometry,
        out_len: usize,
        f: impl Fn(usize, &[f32], &mut [f32]) + Sync,
    ) -> Vec<f32> {
        let in_image = g.image_sizes().0;
        new_in_chunks(g.batch * out_len, out_len, 1, |b, out| {
            f(b, &padded(&x[b * in_image..][..in_image], g), out)
        })
    }

    /// `y[o, q] = sum over (c, i, j) of w[o, c, i, j] * xp[c, i, j + q]` in the frame of the
    /// padded width, LANES output pixels of CO channels at a time.
    #[inline(always)]
    fn forward_image_any<const CO: usize>(
        xp: &[f32],
        blocks: &[(usize, usize)],
        weight: &[f32],
        g: &Geometry,
        y: &mut [f32],
    ) {
        let ([kh, kw], ci, [hp, wp]) = (g.kernel, g.channels_in, g.padded());
        let (taps, frame) = (ci * kh * kw, g.output()[0] * wp);
        for &(q, lanes) in blocks {
            let mut acc = [[0.0f32; LANES]; CO];
            for c in 0..ci {
                for i in 0..kh {
                    let row = &xp[(c * hp + i) * wp + q..];
                    for j in 0..kw {
                        let tap = (c * kh + i) * kw + j;
                        let w: [f32; CO] = std::array::from_fn(|o| weight[o * taps + tap]);
                        if lanes == LANES {
                            let v: &[f32; LANES] = row[j..j + LANES].try_into().unwrap();
                            for o in 0..CO {
                                for l in 0..LANES {
                                    acc[o][l] += w[o] * v[l];
                                }
                            }
                        } else {
                            for o in 0..CO {
                                for l in 0..lanes {
                                    acc[o][l] += w[o] * row[j + l];
                                }
                            }
                        }
                    }
                }
            }
            for (o, acc) in acc.iter().enumerate() {
                y[o * frame + q..][..lanes].copy_from_slice(&acc[..lanes]);
            }
        }
    }

    pub fn weight_grad(x: &[f32], grad: &[f32], g: &Geometry) -> Vec<f32> {
        let (out_image, len) = (g.image_sizes().1, g.channels_out * g.rows());
        let blocks = blocks(g);
        let parts = per_image(x, g, len, |b, xp, dw| {
            let dy = &to_frame(&grad[b * out_image..][..out_image], g);
            match g.channels_out {
                1 => weight_grad_image::<1>(xp, &blocks, dy, g, dw),
                2 => weight_grad_image::<2>(xp, &blocks, dy, g, dw),
                3 => weight_grad_image::<3>(xp, &blocks, dy, g, dw),
                _ => weight_grad_image::<4>(xp, &blocks, dy, g, dw),
            }
        });
        add_up_images(&parts, len)
    }

    /// One image's part of `dw[o, c, i, j] = sum over q of dy[o, q] * xp[c, i, j + q]` in the
    /// frame of the padded width (`dy` zero past each row's end), in LANES partial sums added
    /// up in lane order.
    #[inline(always)]
    fn weight_grad_image_any<const CO: usize>(
        xp: &[f32],
        blocks: &[(usize, usize)],
        dy: &[f32],
        g: &Geometry,
        dw: &mut [f32],
    ) {
        let ([kh, kw], ci, [hp, wp]) = (g.kernel, g.channels_in, g.padded());
        let (taps, frame) = (ci * kh * kw, g.output()[0] * wp);
        // TAPS neighbouring kernel columns at a time, their TAPS x CO partial sums in
        // registers: each output-gradient vector loaded serves TAPS products. Past the last
        // column the block repeats it, and those sums are dropped.
        const TAPS: usize = 4;
        for c in 0..ci {
            for i in 0..kh {
                let plane_row = &xp[(c * hp + i) * wp..];
                for j0 in (0..kw).step_by(TAPS) {
                    let js: [usize; TAPS] = std::array::from_fn(|t| (j0 + t).min(kw - 1));
                    let mut acc = [[[0.0f32; LANES]; CO]; TAPS];
                    for &(q, lanes) in blocks {
                        let row = &plane_row[q..];
                        let d = |o: usize| &dy[o * frame + q..][..lanes];
                        if lanes == LANES {
                            let d: [&[f32; LANES]; CO] =
                                std::array::from_fn(|o| d(o).try_into().unwrap());
                            for t in 0..TAPS {
                                let v: &[f32; LANES] = row[js[t]..][..LANES].try_into().unwrap();
                                for o in 0..CO {
                                    for l in 0..LANES {
                                        acc[t][o][l] += d[o][l] * v[l];
                                    }
                                }
                            }
                        } else {
                            for (acc, &j) in acc.iter_mut().zip(&js) {
                                for (o, acc) in acc.iter_mut().enumerate() {
                                    for (l, dv) in d(o).iter().enumerate() {
                                        acc[l] += dv * row[j + l];
                                    }
                                }
                            }
                        }
                    }
                    for (t, acc) in acc.iter().enumerate().take(kw - j0) {
                        for (o, acc) in acc.iter().enumerate() {
                            dw[o * taps + (c * kh + i) * kw + j0 + t] = acc.iter().sum();
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The gradients by their definition, one multiply-add at a time.
    fn naive(x: &[f32], w: &[f32], grad: &[f32], g: &Geometry) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let [h, wd] = g.input;
        let [kh, kw] = g.kernel;
        let [ho, wo] = g.output();
        let mut dx = vec![0.0f32; x.len()];
        let mut dw = vec![0.0f32; w.len()];
        let mut y = vec![0.0f32; grad.len()];
        for b in 0..g.batch {
            for o in 0..g.channels_out {
                for c in 0..g.channels_in {
                    for i in 0..kh {
                        for j in 0..kw {
                            for oh in 0..ho {
                                for ow in 0..wo {
                                    let ih =
                                        (oh * g.stride[0] + i) as isize - g.padding[0] as isize;
                                    let iw =
                                        (ow * g.stride[1] + j) as isize - g.padding[1] as isize;
                                    if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                        continue;
                                    }
                                    let xi = ((b * g.channels_in + c) * h + ih as usize) * wd
                                        + iw as usize;
                                    let wi = ((o * g.channels_in + c) * kh + i) * kw + j;
                                    let gi = ((b * g.channels_out + o) * ho + oh) * wo + ow;
                                    dx[xi] += w[wi] * grad[gi];
                                    dw[wi] += x[xi] * grad[gi];
                                    y[gi] += x[xi] * w[wi];
                                }
                            }
                        }
                    }
                }
            }
        }
        (y, dx, dw)
    }

    /// Deterministic values in [-1, 1).
    pub(crate) fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn the_output_and_both_gradients_match_their_definition() {
        for (channels, kernel, stride, padding, input) in [
            ([3, 4], [3, 3], [1, 1], [1, 1], [7, 6]),
            // 15 tiles of two output rows each
            ([40, 2], [9, 9], [1, 1], [4, 4], [30, 30]),
            ([3, 4], [4, 4], [2, 2], [1, 1], [8, 8]),
            ([3, 4], [7, 7], [1, 1], [0, 0], [9, 10]),
            ([3, 4], [1, 1], [1, 1], [0, 0], [5, 5]),
            ([3, 4], [3, 3], [2, 2], [0, 0], [9, 7]),
            // fewer output than input channels: the input gradient as a full convolution
            ([4, 3], [3, 3], [1, 1], [1, 1], [7, 6]),
            ([6, 2], [3, 5], [1, 1], [1, 2], [7, 9]),
            ([5, 5], [7, 7], [1, 1], [0, 0], [9, 10]),
            ([5, 3], [1, 1], [1, 1], [0, 0], [5, 5]),
            // small images, the batch in one product: 1x1 and 2x2 outputs, a 7x6 one
            ([40, 3], [4, 4], [2, 2], [1, 1], [2, 2]),
            ([3, 40], [4, 4], [2, 2], [1, 1], [4, 4]),
            ([3, 70], [4, 4], [2, 2], [1, 1], [4, 4]),
            ([70, 2], [4, 4], [1, 1], [1, 1], [8, 7]),
            // few output channels: direct, without im2col (16 lanes and a remainder of 7)
            ([6, 3], [5, 5], [1, 1], [2, 2], [9, 23]),
            ([4, 1], [3, 3], [1, 1], [0, 0], [12, 10]),
            ([3, 4], [7, 7], [1, 1], [3, 3], [8, 8]),
            // ... on small images, in blocks running through the padded frame (PatchGAN's last)
            ([40, 1], [4, 4], [1, 1], [1, 1], [7, 7]),
            ([5, 3], [3, 3], [1, 1], [1, 1], [3, 5]),
        ] {
            let [ci, co] = channels;
            let g = Geometry {
                batch: 2,
                channels_in: ci,
                channels_out: co,
                input,
                kernel,
                stride,
                padding,
            };
            let [ho, wo] = g.output();
            let x = values(2 * ci * input[0] * input[1], 1);
            let w = values(co * ci * kernel[0] * kernel[1], 2);
            let grad = values(2 * co * ho * wo, 3);
            let (y, dx, dw) = naive(&x, &w, &grad, &g);
            let close = |a: &[f32], b: &[f32]| {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-3)
            };
            assert!(close(&forward(&x, &w, &g), &y), "{g:?}: output");
            assert!(
                close(&input_grad(&w, &grad, &g), &dx),
                "{g:?}: input gradient"
            );
            assert!(
                close(&weight_grad(&x, &grad, &g), &dw),
                "{g:?}: weight gradient"
            );
        }
    }
}
