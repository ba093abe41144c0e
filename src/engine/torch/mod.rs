//! On libtorch (`--backend tch` / `tch-cuda`), heist's convolutions and normalisations are
//! libtorch's own operations (so are its PReLU, leaky ReLU and reflection padding), each one node
//! of burn's autodiff graph whose backward pass is
//! libtorch's autograd, so PyTorch's backward kernels run (oneDNN's or cuDNN's convolution
//! backward, the fused batch-norm backward).
//!
//! Why: burn-tch leaves these to burn's generic rules -- a weight gradient computed as a
//! convolution whose kernel is the output gradient, a normalisation as a dozen elementwise
//! operations and their gradients -- which made a training step 0.6-0.9x PyTorch's on the same
//! libtorch (docs/engine.md).

// burn marks burn-tch deprecated; heist keeps it, as its users asked for libtorch.
#![allow(deprecated)]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::libtorch::TchTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Dispatch, DispatchDevice, LibTorch};
use burn::backend::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Device, Tensor};

use crate::engine::norm::kernels::Groups;

pub(crate) mod ffi;

/// Whether `device` is a libtorch device (with or without autodiff).
pub fn on_libtorch(device: &Device) -> bool {
    matches!(
        device.clone().without_autodiff().as_dispatch(),
        DispatchDevice::LibTorch(_)
    )
}

/// Whether `x` is an f32 tensor on libtorch.
pub fn applies(x: &Tensor<4>) -> bool {
    on_libtorch(&x.device()) && x.dtype() == DType::F32
}

/// A convolution with libtorch's kernels forward and backward (symmetric padding only).
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchOps>::torch_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    ))
}

/// A transposed convolution with libtorch's kernels forward and backward.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchOps>::torch_conv_transpose2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        options,
    ))
}

/// `(x - mean) / sqrt(var + epsilon) * gamma + beta` with the mean and biased variance of each
/// channel of `x` over the batch, as libtorch's batch normalisation, and those statistics
/// (`[2, c]`: the means, the variances; not differentiated).
pub fn batch_norm(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<4>, Tensor<2>) {
    let (y, statistics) = <Dispatch as TorchOps>::torch_batch_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    (Tensor::from_dispatch(y), Tensor::from_dispatch(statistics))
}

/// The same with the statistics of each image's channel, as libtorch's instance normalisation.
pub fn instance_norm(x: Tensor<4>, gamma: Tensor<1>, beta: Tensor<1>, epsilon: f64) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchOps>::torch_instance_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    ))
}

/// A one-input operation of heist's networks that libtorch runs forward and backward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    Relu,
    /// `x > 0 ? x : slope * x`, as libtorch's `leaky_relu`.
    LeakyRelu(f64),
    Tanh,
    /// `[n, c r^2, h, w]` to `[n, c, h r, w r]`, as libtorch's `pixel_shuffle`.
    PixelShuffle(usize),
    /// Padding by `p` on every side by reflection, as libtorch's `reflection_pad2d`.
    Reflect(usize),
}

/// `op` of `x` with libtorch's kernels forward and backward.
pub fn unary(x: Tensor<4>, op: Unary) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchOps>::torch_unary(x.into_dispatch(), op))
}

/// `(x - mean) / sqrt(var + epsilon) * gamma + beta` with given (running) statistics, as
/// libtorch's batch normalisation in evaluation mode.
pub fn batch_norm_inference(
    x: Tensor<4>,
    [gamma, beta, mean, var]: [Tensor<1>; 4],
    epsilon: f64,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchOps>::torch_batch_norm_inference(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        var.into_dispatch(),
        epsilon,
    ))
}

/// `x > 0 ? x : alpha * x`, `alpha` `[1]` or `[c]`, as libtorch's `prelu`.
pub fn prelu(x: Tensor<4>, alpha: Tensor<1>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TorchOps>::torch_prelu(
        x.into_dispatch(),
        alpha.into_dispatch(),
    ))
}

#[backend_extension(LibTorch, Autodiff)]
pub trait TorchOps: burn::backend::Backend {
    fn torch_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    fn torch_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;

    fn torch_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    fn torch_instance_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;

    fn torch_unary(x: FloatTensor<Self>, op: Unary) -> FloatTensor<Self>;

    fn torch_batch_norm_inference(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;

    fn torch_prelu(x: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// One of the operations above on libtorch tensors: its inputs are `[x, weight or gamma,
/// bias or beta]`, `[x, gamma, beta, mean, var]` for batch normalisation with given statistics,
/// `[x, alpha]` for PReLU, `[x]` for the others.
#[derive(Debug, Clone)]
enum Op {
    Conv(ConvOptions<2>),
    Transposed(ConvTransposeOptions<2>),
    Normalize(Groups, f64),
    Standardize(f64),
    Prelu,
    Unary(Unary),
}

fn ints<const N: usize>(v: [usize; N]) -> [i64; N] {
    v.map(|i| i as i64)
}

impl Op {
    /// The operation's output, and for batch normalisation the batch's statistics.
    fn run(&self, inputs: &[&tch::Tensor]) -> (tch::Tensor, Option<tch::Tensor>) {
        let y = match (self, inputs) {
            (Op::Conv(o), [x, w, b]) => x.conv2d(
                w,
                Some(*b),
                ints(o.stride),
                ints(o.padding_begin()),
                ints(o.dilation),
                o.groups as i64,
            ),
            (Op::Transposed(o), [x, w, b]) => x.conv_transpose2d(
                w,
                Some(*b),
                ints(o.stride),
                ints(o.padding),
                ints(o.padding_out),
                o.groups as i64,
                ints(o.dilation),
            ),
            (Op::Normalize(Groups::Channel, eps), [x, g, b]) => {
                let (y, mean, invstd) =
                    x.native_batch_norm(Some(*g), Some(*b), None, None, true, 0.0, *eps);
                // var = 1 / invstd^2 - eps, as native_batch_norm keeps the inverse deviation.
                let var = (invstd.detach().square().reciprocal() - *eps).clamp_min(0.0);
                return (y, Some(tch::Tensor::stack(&[mean.detach(), var], 0)));
            }
            (Op::Normalize(Groups::Plane, eps), [x, g, b]) => {
                x.instance_norm(Some(*g), Some(*b), None, None, true, 0.0, *eps, true)
            }
            (Op::Standardize(eps), [x, g, b, mean, var]) => x.batch_norm(
                Some(*g),
                Some(*b),
                Some(*mean),
                Some(*var),
                false,
                0.0,
                *eps,
                true,
            ),
            (Op::Prelu, [x, alpha]) => x.prelu(alpha),
            (Op::Unary(Unary::Relu), [x]) => x.relu(),
            (Op::Unary(Unary::LeakyRelu(slope)), [x]) => ffi::leaky_relu(x, *slope),
            (Op::Unary(Unary::Tanh), [x]) => x.tanh(),
            (Op::Unary(Unary::PixelShuffle(r)), [x]) => x.pixel_shuffle(*r as i64),
            (Op::Unary(Unary::Reflect(p)), [x]) => x.reflection_pad2d([*p as i64; 4]),
            (op, inputs) => unreachable!("{op:?} does not take {} inputs", inputs.len()),
        };
        (y, None)
    }

    /// Whether libtorch's backward pass reads the operation's output (ReLU's and tanh's do).
    fn saves_output(&self) -> bool {
        matches!(self, Op::Unary(Unary::Relu | Unary::Tanh))
    }

    /// [`Op::run`] on burn's tensors, without autograd.
    fn plain(&self, inputs: &[&TchTensor]) -> (TchTensor, Option<TchTensor>) {
        let tensors: Vec<&tch::Tensor> = inputs.iter().map(|t| &t.tensor).collect();
        let (y, statistics) = self.run(&tensors);
        (TchTensor::new(y), statistics.map(TchTensor::new))
    }
}

impl TorchOps for LibTorch {
    fn torch_conv2d(x: TchTensor, w: TchTensor, b: TchTensor, o: ConvOptions<2>) -> TchTensor {
        Op::Conv(o).plain(&[&x, &w, &b]).0
    }

    fn torch_conv_transpose2d(
        x: TchTensor,
        w: TchTensor,
        b: TchTensor,
        o: ConvTransposeOptions<2>,
    ) -> TchTensor {
        Op::Transposed(o).plain(&[&x, &w, &b]).0
    }

    fn torch_batch_norm(
        x: TchTensor,
        g: TchTensor,
        b: TchTensor,
        eps: f64,
    ) -> (TchTensor, TchTensor) {
        let (y, statistics) = Op::Normalize(Groups::Channel, eps).plain(&[&x, &g, &b]);
        (
            y,
            statistics.expect("batch normalisation returns its statistics"),
        )
    }

    fn torch_instance_norm(x: TchTensor, g: TchTensor, b: TchTensor, eps: f64) -> TchTensor {
        Op::Normalize(Groups::Plane, eps).plain(&[&x, &g, &b]).0
    }

    fn torch_unary(x: TchTensor, op: Unary) -> TchTensor {
        Op::Unary(op).plain(&[&x]).0
    }

    fn torch_batch_norm_inference(
        x: TchTensor,
        g: TchTensor,
        b: TchTensor,
        m: TchTensor,
        v: TchTensor,
        eps: f64,
    ) -> TchTensor {
        Op::Standardize(eps).plain(&[&x, &g, &b, &m, &v]).0
    }

    fn torch_prelu(x: TchTensor, alpha: TchTensor) -> TchTensor {
        Op::Prelu.plain(&[&x, &alpha]).0
    }
}

/// An operation's output still attached to libtorch's autograd graph, the leaves it was
/// computed from (`None` where burn tracks no gradient), and burn's input tensors (and its
/// output, where the backward pass reads it), held so burn-tch does not overwrite them in
/// place while the graph refers to their values.
#[derive(Debug)]
struct Graph<const N: usize> {
    output: tch::Tensor,
    leaves: [Option<tch::Tensor>; N],
    _inputs: [TchTensor; N],
    _output: Option<TchTensor>,
}

impl<const N: usize> Clone for Graph<N> {
    fn clone(&self) -> Graph<N> {
        Graph {
            output: self.output.shallow_clone(),
            leaves: self
                .leaves
                .each_ref()
                .map(|l| l.as_ref().map(|t| t.shallow_clone())),
            _inputs: self._inputs.clone(),
            _output: self._output.clone(),
        }
    }
}

#[derive(Debug)]
struct Node;

impl<const N: usize> Backward<LibTorch, N> for Node {
    type State = Graph<N>;

    fn backward(self, ops: Ops<Graph<N>, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<LibTorch>(&ops.node);
        let Graph { output, leaves, .. } = ops.state;
        let (parents, leaves): (Vec<NodeId>, Vec<tch::Tensor>) = ops
            .parents
            .iter()
            .zip(leaves)
            .filter_map(|(parent, leaf)| Some((parent.as_ref()?.id, leaf?)))
            .unzip();
        if leaves.is_empty() {
            return;
        }
        let inputs: Vec<&tch::Tensor> = leaves.iter().collect();
        for (parent, gradient) in parents
            .into_iter()
            .zip(ffi::grad(&output, &dy.tensor, &inputs))
        {
            grads.register::<LibTorch>(parent, TchTensor::new(gradient));
        }
    }
}

type AutodiffTensor<C> = FloatTensor<Autodiff<LibTorch, C>>;

/// `op` on autodiff tensors: recorded with libtorch's autograd when any input is tracked.
/// Batch normalisation's statistics come back untracked.
fn record<C: CheckpointStrategy, const N: usize>(
    op: Op,
    inputs: [AutodiffTensor<C>; N],
) -> (AutodiffTensor<C>, Option<AutodiffTensor<C>>) {
    let nodes = inputs.each_ref().map(|t| t.node());
    let tracked = inputs.each_ref().map(|t| t.is_tracked());
    let primitives = inputs.map(|t| t.into_primitive());
    let (y, statistics) = match Node.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let leaves: [Option<tch::Tensor>; N] = std::array::from_fn(|i| {
                tracked[i].then(|| primitives[i].tensor.detach().set_requires_grad(true))
            });
            let values: [tch::Tensor; N] = std::array::from_fn(|i| match &leaves[i] {
                Some(leaf) => leaf.shallow_clone(),
                None => primitives[i].tensor.shallow_clone(),
            });
            let (output, statistics) = op.run(&values.each_ref());
            let y = TchTensor::new(output.detach());
            let graph = Graph {
                output,
                leaves,
                _inputs: primitives,
                _output: op.saves_output().then(|| y.clone()),
            };
            (prep.finish(graph, y), statistics.map(TchTensor::new))
        }
        OpsKind::UnTracked(prep) => {
            let (y, statistics) = op.plain(&primitives.each_ref());
            (prep.finish(y), statistics)
        }
    };
    (y, statistics.map(AutodiffTensor::<C>::new))
}

impl<C: CheckpointStrategy> TorchOps for Autodiff<LibTorch, C> {
    fn torch_conv2d(
        x: AutodiffTensor<C>,
        w: AutodiffTensor<C>,
        b: AutodiffTensor<C>,
        o: ConvOptions<2>,
    ) -> AutodiffTensor<C> {
        record::<C, _>(Op::Conv(o), [x, w, b]).0
    }

    fn torch_conv_transpose2d(
        x: AutodiffTensor<C>,
        w: AutodiffTensor<C>,
        b: AutodiffTensor<C>,
        o: ConvTransposeOptions<2>,
    ) -> AutodiffTensor<C> {
        record::<C, _>(Op::Transposed(o), [x, w, b]).0
    }

    fn torch_batch_norm(
        x: AutodiffTensor<C>,
        g: AutodiffTensor<C>,
        b: AutodiffTensor<C>,
        eps: f64,
    ) -> (AutodiffTensor<C>, AutodiffTensor<C>) {
        let (y, statistics) = record::<C, _>(Op::Normalize(Groups::Channel, eps), [x, g, b]);
        (
            y,
            statistics.expect("batch normalisation returns its statistics"),
        )
    }

    fn torch_instance_norm(
        x: AutodiffTensor<C>,
        g: AutodiffTensor<C>,
        b: AutodiffTensor<C>,
        eps: f64,
    ) -> AutodiffTensor<C> {
        record::<C, _>(Op::Normalize(Groups::Plane, eps), [x, g, b]).0
    }

    fn torch_unary(x: AutodiffTensor<C>, op: Unary) -> AutodiffTensor<C> {
        record::<C, _>(Op::Unary(op), [x]).0
    }

    fn torch_batch_norm_inference(
        x: AutodiffTensor<C>,
        g: AutodiffTensor<C>,
        b: AutodiffTensor<C>,
        m: AutodiffTensor<C>,
        v: AutodiffTensor<C>,
        eps: f64,
    ) -> AutodiffTensor<C> {
        // The statistics are constants to libtorch's autograd, as they are to PyTorch's.
        let [m, v] = [m, v].map(Autodiff::<LibTorch, C>::float_detach);
        record::<C, _>(Op::Standardize(eps), [x, g, b, m, v]).0
    }

    fn torch_prelu(x: AutodiffTensor<C>, alpha: AutodiffTensor<C>) -> AutodiffTensor<C> {
        record::<C, _>(Op::Prelu, [x, alpha]).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::ops::PadMode;
    use burn::tensor::TensorData;

    #[allow(deprecated)]
    fn device() -> Device {
        Device::libtorch().autodiff()
    }

    fn random<const D: usize>(shape: [usize; D], seed: u32) -> Tensor<D> {
        let device = device();
        let values = crate::engine::conv::kernels::tests::values(shape.iter().product(), seed);
        Tensor::<D>::from_data(TensorData::new(values, shape), &device).require_grad()
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    /// The outputs of `ours` and `burns` on the same inputs, and the gradients of
    /// `sum(output * output)` with respect to each input, are equal within `1e-4` relative.
    fn assert_same<const N: usize>(
        inputs: [Tensor<4>; N],
        ours: impl Fn(&[Tensor<4>; N]) -> Tensor<4>,
        burns: impl Fn(&[Tensor<4>; N]) -> Tensor<4>,
        what: &str,
    ) {
        let run = |f: &dyn Fn(&[Tensor<4>; N]) -> Tensor<4>| {
            let inputs = inputs.each_ref().map(|t| t.clone().detach().require_grad());
            let y = f(&inputs);
            let grads = (y.clone() * y.clone()).sum().backward();
            let mut all = vec![values(y)];
            all.extend(inputs.iter().map(|t| values(t.grad(&grads).unwrap())));
            all
        };
        for (i, (a, b)) in run(&ours).iter().zip(run(&burns)).enumerate() {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            assert_eq!(a.len(), b.len(), "{what}: {i}");
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-4 * scale,
                    "{what}, tensor {i}: {x} vs {y}"
                );
            }
        }
    }

    fn as_1d(t: &Tensor<4>) -> Tensor<1> {
        let n: usize = t.dims().iter().product();
        t.clone().reshape([n])
    }

    #[test]
    fn convolutions_match_burns_forward_and_backward() {
        for (kernel, stride, padding) in [(3, 1, 1), (4, 2, 1), (7, 1, 3)] {
            let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
            let inputs = [
                random([2, 3, 12, 12], 1),
                random([5, 3, kernel, kernel], 2),
                random([1, 1, 1, 5], 3),
            ];
            let ours = |[x, w, b]: &[Tensor<4>; 3]| {
                conv2d(x.clone(), w.clone(), as_1d(b), options.clone())
            };
            let burns = |[x, w, b]: &[Tensor<4>; 3]| {
                burn::tensor::module::conv2d(x.clone(), w.clone(), Some(as_1d(b)), options.clone())
            };
            assert_same(
                inputs,
                ours,
                burns,
                &format!("conv {kernel}x{kernel}/{stride}"),
            );
        }
        for (kernel, padding_out) in [(4, 0), (3, 1)] {
            let options = ConvTransposeOptions::new([2, 2], [1, 1], [padding_out; 2], [1, 1], 1);
            let inputs = [
                random([2, 5, 7, 6], 4),
                random([5, 3, kernel, kernel], 5),
                random([1, 1, 1, 3], 6),
            ];
            let ours = |[x, w, b]: &[Tensor<4>; 3]| {
                conv_transpose2d(x.clone(), w.clone(), as_1d(b), options.clone())
            };
            let burns = |[x, w, b]: &[Tensor<4>; 3]| {
                let b = Some(as_1d(b));
                burn::tensor::module::conv_transpose2d(x.clone(), w.clone(), b, options.clone())
            };
            assert_same(
                inputs,
                ours,
                burns,
                &format!("transposed {kernel}x{kernel}"),
            );
        }
    }

    #[test]
    fn normalisation_and_padding_match_burns_forward_and_backward() {
        let inputs = || {
            [
                random([3, 4, 5, 6], 7),
                random([1, 1, 2, 2], 8),
                random([1, 1, 2, 2], 9),
            ]
        };
        for groups in [Groups::Channel, Groups::Plane] {
            let ours = |[x, g, b]: &[Tensor<4>; 3]| {
                let (x, g, b) = (x.clone(), as_1d(g), as_1d(b));
                match groups {
                    Groups::Channel => batch_norm(x, g, b, 1e-5).0,
                    Groups::Plane => instance_norm(x, g, b, 1e-5),
                }
            };
            let burns = |[x, g, b]: &[Tensor<4>; 3]| {
                let dims: &[usize] = match groups {
                    Groups::Channel => &[0, 2, 3],
                    Groups::Plane => &[2, 3],
                };
                let mut mean = x.clone();
                for &d in dims.iter().rev() {
                    mean = mean.mean_dim(d);
                }
                let centred = x.clone() - mean;
                let mut var = centred.clone() * centred.clone();
                for &d in dims.iter().rev() {
                    var = var.mean_dim(d);
                }
                let scale = g.clone().reshape([1, 4, 1, 1]);
                let shift = b.clone().reshape([1, 4, 1, 1]);
                centred / (var + 1e-5).sqrt() * scale + shift
            };
            assert_same(inputs(), ours, burns, &format!("{groups:?}"));
        }
        let [x, _, _] = inputs();
        let ours = |[x]: &[Tensor<4>; 1]| unary(x.clone(), Unary::Reflect(2));
        let burns = |[x]: &[Tensor<4>; 1]| x.clone().pad((2, 2, 2, 2), PadMode::Reflect);
        assert_same([x.clone()], ours, burns, "reflection padding");
        for slopes in [1, 4] {
            let alpha = random([1, 1, 1, slopes], 11);
            let ours = |[x, a]: &[Tensor<4>; 2]| prelu(x.clone(), as_1d(a));
            let burns = |[x, a]: &[Tensor<4>; 2]| {
                let a = a.clone().reshape([1, slopes, 1, 1]);
                let negative = x.clone().lower_elem(0.0).float();
                x.clone() * (negative.clone() * a + (negative * -1.0 + 1.0))
            };
            assert_same(
                [x.clone(), alpha],
                ours,
                burns,
                &format!("prelu, {slopes} slopes"),
            );
        }
    }

    #[test]
    fn activations_and_pixel_shuffle_match_burns_forward_and_backward() {
        let x = random([2, 8, 3, 5], 12);
        let cases: [(Unary, &dyn Fn(Tensor<4>) -> Tensor<4>); 4] = [
            (Unary::Relu, &burn::tensor::activation::relu),
            (Unary::LeakyRelu(0.2), &|x| {
                burn::tensor::activation::leaky_relu(x, 0.2)
            }),
            (Unary::Tanh, &burn::tensor::activation::tanh),
            (Unary::PixelShuffle(2), &|x| {
                burn::nn::PixelShuffleConfig::new(2).init().forward(x)
            }),
        ];
        for (op, burns) in cases {
            let ours = |[x]: &[Tensor<4>; 1]| unary(x.clone(), op);
            let burns = |[x]: &[Tensor<4>; 1]| burns(x.clone());
            assert_same([x.clone()], ours, burns, &format!("{op:?}"));
        }
    }

    #[test]
    fn outputs_that_the_backward_pass_reads_survive_burns_in_place_operations() {
        for op in [Unary::Relu, Unary::Tanh] {
            let x = random([2, 3, 4, 4], 18).require_grad();
            // burn-tch adds in place into a tensor it holds the only reference to
            let grads = (unary(x.clone(), op) + 1.0).sum().backward();
            let expected = match op {
                Unary::Relu => x.clone().greater_elem(0.0).float(),
                _ => 1.0 - burn::tensor::activation::tanh(x.clone()).powi_scalar(2),
            };
            let (ours, expected) = (values(x.grad(&grads).unwrap()), values(expected));
            for (a, b) in ours.iter().zip(&expected) {
                assert!((a - b).abs() <= 1e-5, "{op:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn batch_norm_with_given_statistics_matches_its_definition() {
        let inputs = [
            random([3, 4, 5, 6], 13),
            random([1, 1, 2, 2], 14),
            random([1, 1, 2, 2], 15),
        ];
        let mean = as_1d(&random([1, 1, 2, 2], 16));
        let var = as_1d(&random([1, 1, 2, 2], 17)).abs() + 0.5;
        let ours = |[x, g, b]: &[Tensor<4>; 3]| {
            let parameters = [as_1d(g), as_1d(b), mean.clone(), var.clone()];
            batch_norm_inference(x.clone(), parameters, 1e-5)
        };
        let burns = |[x, g, b]: &[Tensor<4>; 3]| {
            let channel = |t: Tensor<1>| t.reshape([1, 4, 1, 1]);
            let deviation = channel(var.clone() + 1e-5).sqrt();
            (x.clone() - channel(mean.clone())) / deviation * channel(as_1d(g)) + channel(as_1d(b))
        };
        assert_same(inputs, ours, burns, "batch norm with given statistics");
    }

    #[test]
    fn batch_norm_returns_the_mean_and_biased_variance() {
        let x = random([3, 2, 4, 5], 10);
        let (gamma, beta) = (random([2], 11), random([2], 12));
        let statistics = values(batch_norm(x.clone(), gamma, beta, 1e-5).1);
        let x = values(x);
        for c in 0..2 {
            let of_c: Vec<f32> = (0..3)
                .flat_map(|n| x[(n * 2 + c) * 20..(n * 2 + c + 1) * 20].to_vec())
                .collect();
            let mean = of_c.iter().sum::<f32>() / 60.0;
            let var = of_c.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 60.0;
            assert!((statistics[c] - mean).abs() < 1e-5);
            assert!((statistics[2 + c] - var).abs() < 1e-5);
        }
    }
}
