//! Reflection padding for heist's networks (CycleGAN's and UGATIT's generators): on the CPU
//! default (flex) one parallel pass forward and one backward, as a burn backend extension;
//! on libtorch, libtorch's `reflection_pad2d` ([`crate::engine::torch`]); elsewhere burn's `pad`.
//!
//! Why: burn pads by writing slices into a new tensor, and its backward pass reads them back
//! out slice by slice, each a serial copy on flex, before every 3x3 convolution of a residual
//! block (72 per CycleGAN step).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Dispatch, Flex};
use burn::tensor::ops::PadMode;
use burn::tensor::{Tensor, TensorData};

use crate::engine::flex_kernels::{applies, f32_values, resize_planes};

/// `x.pad((p, p, p, p), PadMode::Reflect)`, through heist's kernel on the CPU default.
pub fn reflect(x: Tensor<4>, p: usize) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    #[cfg(feature = "tch")]
    if crate::engine::torch::applies(&x) && p < h && p < w {
        return crate::engine::torch::unary(x, crate::engine::torch::Unary::Reflect(p));
    }
    if !applies(&x) || p >= h || p >= w {
        return x.pad((p, p, p, p), PadMode::Reflect);
    }
    Tensor::from_dispatch(<Dispatch as HeistPad>::heist_reflect(x.into_dispatch(), p))
}

#[backend_extension(Flex, Autodiff)]
pub trait HeistPad: burn::backend::Backend {
    /// `x` `[n, c, h, w]` padded by `p` on every side by reflection (the edge not repeated),
    /// `p < h, w`.
    fn heist_reflect(x: FloatTensor<Self>, p: usize) -> FloatTensor<Self>;
}

/// The input index that padded index `u` reflects, for `size` values padded by `p`.
fn source(u: usize, p: usize, size: usize) -> usize {
    let t = u as isize - p as isize;
    let last = size as isize - 1;
    (if t < 0 {
        -t
    } else if t > last {
        2 * last - t
    } else {
        t
    }) as usize
}

/// Height and width of `x` `[n, c, h, w]`.
fn plane(x: &FlexTensor) -> [usize; 2] {
    let shape = x.layout().shape();
    [shape[2], shape[3]]
}

impl HeistPad for Flex {
    fn heist_reflect(x: FlexTensor, p: usize) -> FlexTensor {
        let ([h, w], values) = (plane(&x), f32_values(&x));
        let (hp, wp) = (h + 2 * p, w + 2 * p);
        let y = resize_planes(values.storage::<f32>(), h * w, hp * wp, |x, y| {
            for (u, row) in y.chunks_mut(wp).enumerate() {
                let src = &x[source(u, p, h) * w..][..w];
                for (v, y) in row.iter_mut().enumerate() {
                    *y = src[source(v, p, w)];
                }
            }
        });
        let mut shape = x.layout().shape().to_vec();
        shape[2..].copy_from_slice(&[hp, wp]);
        FlexTensor::from_data(TensorData::new(y, shape))
    }
}

#[derive(Debug)]
struct ReflectNode;

impl Backward<Flex, 1> for ReflectNode {
    /// The padding and the input's shape.
    type State = (usize, Vec<usize>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let Some(node) = node else { return };
        let dy = f32_values(&dy);
        let (p, shape) = ops.state;
        let [h, w] = [shape[2], shape[3]];
        let wp = w + 2 * p;
        // each input value sums the padded values that copy it, in the padded plane's order
        let dx = resize_planes(dy.storage::<f32>(), (h + 2 * p) * wp, h * w, |dy, dx| {
            for (u, row) in dy.chunks(wp).enumerate() {
                let dst = &mut dx[source(u, p, h) * w..][..w];
                for (v, d) in row.iter().enumerate() {
                    dst[source(v, p, w)] += d;
                }
            }
        });
        grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape)));
    }
}

impl<C: CheckpointStrategy> HeistPad for Autodiff<Flex, C> {
    fn heist_reflect(x: FloatTensor<Self>, p: usize) -> FloatTensor<Self> {
        let shape = x.primitive().layout().shape().to_vec();
        match ReflectNode
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((p, shape), Flex::heist_reflect(x.into_primitive(), p))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::heist_reflect(x.into_primitive(), p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// Output and input gradient of `sum(reflect(x) * w)`, by heist's kernel and by burn's pad.
    #[test]
    fn matches_burns_reflection_padding_forward_and_backward() {
        let values = crate::engine::conv::kernels::tests::values;
        for (shape, p) in [([2, 3, 5, 4], 1), ([1, 2, 7, 7], 3), ([2, 1, 2, 3], 1)] {
            let device = Device::flex().autodiff();
            let n: usize = shape.iter().product();
            let padded = [shape[0], shape[1], shape[2] + 2 * p, shape[3] + 2 * p];
            let w = Tensor::<4>::from_data(
                TensorData::new(values(padded.iter().product(), 5), padded),
                &device,
            );
            let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
                let x = Tensor::<4>::from_data(TensorData::new(values(n, 1), shape), &device)
                    .require_grad();
                let y = f(x.clone());
                let grads = (y.clone() * w.clone()).sum().backward();
                let dx = x.grad(&grads).unwrap();
                [y.into_data(), dx.into_data()].map(|d| d.try_to_vec::<f32>().unwrap())
            };
            let ours = run(&|x| reflect(x, p));
            let burns = run(&|x| x.pad((p, p, p, p), PadMode::Reflect));
            for (a, b) in ours.iter().zip(&burns) {
                assert_eq!(a.len(), b.len(), "{shape:?} p {p}");
                assert!(
                    a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-6),
                    "{shape:?} p {p}: {a:?} vs {b:?}"
                );
            }
        }
    }
}
