//! 2-D convolutions (and transposed convolutions) for heist's networks. On the CPU default
//! (flex) they run heist's own im2col kernels ([`kernels`]) forward and backward, as a burn backend extension with its own
//! backward pass; on libtorch, libtorch's own forward and backward ([`crate::engine::torch`]);
//! on CUDA, burn's `conv2d`.
//!
//! Why: burn's generic convolution backward on flex spends most of its time packing and
//! copying (a weight gradient computed as a convolution whose kernel is the output gradient; an
//! input gradient as a transposed convolution). `cargo bench --bench conv_grad` measures both.

pub mod kernels;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Dispatch, Flex};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Tensor, TensorData};

use crate::engine::flex_kernels::applies;
use kernels::Geometry;

/// `conv.forward(x)`, through heist's kernels on the CPU default.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [top, left, bottom, right] = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Same => return conv.forward(x),
    };
    let options = ConvOptions::new_with_padding(
        conv.stride,
        [(top, bottom), (left, right)],
        conv.dilation,
        conv.groups,
    );
    conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|b| b.val()),
        options,
    )
}

/// burn's `conv2d`, through heist's kernels on the CPU default where they apply.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if crate::engine::torch::applies(&x) && !options.is_asymmetric() {
        let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &x.device()));
        return crate::engine::torch::conv2d(x, weight, bias, options);
    }
    if !applies(&x) || geometry(&x.dims(), &weight.dims(), &options).is_none() {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    }
    let y = Tensor::<4>::from_dispatch(<Dispatch as HeistConv>::heist_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ));
    with_bias(y, bias)
}

fn with_bias(y: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    match bias {
        Some(b) => {
            let channels = b.dims()[0];
            y + b.reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

/// `conv.forward(x)` for a transposed convolution, through heist's kernels on the CPU default:
/// its output is a convolution's input gradient, and its gradients are that convolution's
/// output and weight gradient.
pub fn forward_transposed(conv: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(
        conv.stride,
        conv.padding,
        conv.padding_out,
        conv.dilation,
        conv.groups,
    );
    let weight = conv.weight.val();
    let bias = conv.bias.as_ref().map(|b| b.val());
    #[cfg(feature = "tch")]
    if crate::engine::torch::applies(&x) {
        let channels = weight.dims()[1] * conv.groups;
        let bias = bias.unwrap_or_else(|| Tensor::zeros([channels], &x.device()));
        return crate::engine::torch::conv_transpose2d(x, weight, bias, options);
    }
    if !applies(&x) || transposed_geometry(&x.dims(), &weight.dims(), &options).is_none() {
        return burn::tensor::module::conv_transpose2d(x, weight, bias, options);
    }
    let y = Tensor::<4>::from_dispatch(<Dispatch as HeistConv>::heist_conv_transpose2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ));
    with_bias(y, bias)
}

/// The convolution whose input gradient a transposed convolution of `x` `[n, ci, h, w]` with
/// `w` `[ci, co, kh, kw]` computes (its input is the transposed convolution's output), or
/// `None` where heist's kernels do not apply.
fn transposed_geometry(
    x: &[usize; 4],
    w: &[usize; 4],
    options: &ConvTransposeOptions<2>,
) -> Option<Geometry> {
    if options.groups != 1 || options.dilation != [1, 1] || x[1] != w[0] {
        return None;
    }
    let size = |d: usize| {
        ((x[2 + d] - 1) * options.stride[d] + w[2 + d] + options.padding_out[d])
            .checked_sub(2 * options.padding[d])
    };
    let g = Geometry {
        batch: x[0],
        channels_in: w[1],
        channels_out: w[0],
        input: [size(0)?, size(1)?],
        kernel: [w[2], w[3]],
        stride: options.stride,
        padding: options.padding,
    };
    (g.input.iter().all(|&s| s > 0) && g.output() == [x[2], x[3]]).then_some(g)
}

/// The geometry of a convolution heist's kernels compute (groups 1, no dilation, the same
/// padding on both sides), or `None`.
fn geometry(x: &[usize; 4], w: &[usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
    let begin = options.padding_begin();
    let symmetric = !options.is_asymmetric();
    (options.groups == 1 && options.dilation == [1, 1] && symmetric && x[1] == w[1]).then_some(
        Geometry {
            batch: x[0],
            channels_in: x[1],
            channels_out: w[0],
            input: [x[2], x[3]],
            kernel: [w[2], w[3]],
            stride: options.stride,
            padding: begin,
        },
    )
}

#[backend_extension(Flex, Autodiff)]
pub trait HeistConv: burn::backend::Backend {
    /// A convolution without bias.
    fn heist_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;

    /// A transposed convolution without bias.
    fn heist_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self>;
}

fn dims(t: &FlexTensor) -> [usize; 4] {
    let shape = t.layout().shape();
    std::array::from_fn(|i| shape[i])
}

/// What heist's autodiff node needs of a convolution-like operation: where its kernels apply,
/// and its output and two gradients, each through heist's kernels or flex's own operation.
/// `x` is the operation's input, `w` its weight, `dy` its output gradient.
trait Op: std::fmt::Debug + Send + Sized + 'static {
    type Options: Clone + Send + std::fmt::Debug + 'static;
    fn geometry(x: &[usize; 4], w: &[usize; 4], options: &Self::Options) -> Option<Geometry>;
    fn output(x: &[f32], w: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]);
    fn input_grad(w: &[f32], dy: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]);
    fn weight_grad(x: &[f32], dy: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]);
    fn flex_output(x: FlexTensor, w: FlexTensor, options: Self::Options) -> FlexTensor;
    fn flex_input_grad(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        o: Self::Options,
    ) -> FlexTensor;
    fn flex_weight_grad(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        o: Self::Options,
    ) -> FlexTensor;

    /// `kernel` on the f32 values of `x` and `w` where heist's kernels apply, else `fallback`.
    fn either(
        x: &FlexTensor,
        w: &FlexTensor,
        options: &Self::Options,
        kernel: impl FnOnce(&[f32], &[f32], &Geometry) -> (Vec<f32>, [usize; 4]),
        fallback: impl FnOnce() -> FlexTensor,
    ) -> FlexTensor {
        let f32s = x.dtype() == DType::F32 && w.dtype() == DType::F32;
        match Self::geometry(&dims(x), &dims(w), options).filter(|_| f32s) {
            Some(g) => {
                let (x, w) = (x.to_contiguous(), w.to_contiguous());
                let (values, shape) = kernel(x.storage::<f32>(), w.storage::<f32>(), &g);
                FlexTensor::from_data(TensorData::new(values, shape))
            }
            None => fallback(),
        }
    }

    fn forward(x: FlexTensor, w: FlexTensor, options: Self::Options) -> FlexTensor {
        Self::either(&x, &w, &options.clone(), Self::output, || {
            Self::flex_output(x.clone(), w.clone(), options)
        })
    }
}

#[derive(Debug)]
struct Convolution;

impl Op for Convolution {
    type Options = ConvOptions<2>;
    fn geometry(x: &[usize; 4], w: &[usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
        geometry(x, w, options)
    }
    fn output(x: &[f32], w: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]) {
        (kernels::forward(x, w, g), g.output_shape())
    }
    fn input_grad(w: &[f32], dy: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]) {
        (kernels::input_grad(w, dy, g), g.input_shape())
    }
    fn weight_grad(x: &[f32], dy: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]) {
        (kernels::weight_grad(x, dy, g), g.weight_shape())
    }
    fn flex_output(x: FlexTensor, w: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        Flex::conv2d(x, w, None, options)
    }
    fn flex_input_grad(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        o: ConvOptions<2>,
    ) -> FlexTensor {
        Flex::conv2d_x_backward(x, w, dy, o)
    }
    fn flex_weight_grad(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        o: ConvOptions<2>,
    ) -> FlexTensor {
        Flex::conv2d_weight_backward(x, w, dy, o)
    }
}

/// A transposed convolution is the input gradient of the convolution [`transposed_geometry`]
/// describes (whose input is its output): its output gradient is that convolution's output,
/// and its weight gradient that convolution's weight gradient with the roles swapped.
#[derive(Debug)]
struct Transposed;

impl Op for Transposed {
    type Options = ConvTransposeOptions<2>;
    fn geometry(x: &[usize; 4], w: &[usize; 4], o: &ConvTransposeOptions<2>) -> Option<Geometry> {
        transposed_geometry(x, w, o)
    }
    fn output(x: &[f32], w: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]) {
        (kernels::input_grad(w, x, g), g.input_shape())
    }
    fn input_grad(w: &[f32], dy: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]) {
        (kernels::forward(dy, w, g), g.output_shape())
    }
    fn weight_grad(x: &[f32], dy: &[f32], g: &Geometry) -> (Vec<f32>, [usize; 4]) {
        (kernels::weight_grad(dy, x, g), g.weight_shape())
    }
    fn flex_output(x: FlexTensor, w: FlexTensor, o: ConvTransposeOptions<2>) -> FlexTensor {
        Flex::conv_transpose2d(x, w, None, o)
    }
    fn flex_input_grad(
        _: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        o: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        Flex::conv_transpose2d_x_backward(w, dy, o)
    }
    fn flex_weight_grad(
        x: FlexTensor,
        w: FlexTensor,
        dy: FlexTensor,
        o: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        Flex::conv_transpose2d_weight_backward(x, w, dy, o)
    }
}

impl HeistConv for Flex {
    fn heist_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        Convolution::forward(x, weight, options)
    }

    fn heist_conv_transpose2d(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        Transposed::forward(x, weight, options)
    }
}

/// The autodiff node of an [`Op`]: it keeps the input and the weight for the backward pass.
#[derive(Debug)]
struct Node<O>(O);

impl<O: Op> Backward<Flex, 2> for Node<O> {
    type State = (NodeId, NodeId, O::Options);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x_state, w_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let w = checkpointer.retrieve_node_output::<FlexTensor>(w_state);
        let dy_values = dy.storage::<f32>();
        if let Some(node) = node_x {
            let dx = O::either(
                &x,
                &w,
                &options,
                |_, w, g| O::input_grad(w, dy_values, g),
                || O::flex_input_grad(x.clone(), w.clone(), dy.clone(), options.clone()),
            );
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_w {
            let dw = O::either(
                &x,
                &w,
                &options,
                |x, _, g| O::weight_grad(x, dy_values, g),
                || O::flex_weight_grad(x.clone(), w.clone(), dy.clone(), options.clone()),
            );
            grads.register::<Flex>(node.id, dw);
        }
    }
}

/// `op` on autodiff tensors: recorded with its backward pass when either input is tracked.
fn record<O: Op, C: CheckpointStrategy>(
    op: O,
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    options: O::Options,
) -> FloatTensor<Autodiff<Flex, C>> {
    match Node(op)
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let w_state = prep.checkpoint(&weight);
            let y = O::forward(x.into_primitive(), weight.into_primitive(), options.clone());
            prep.finish((x_state, w_state, options), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(O::forward(
            x.into_primitive(),
            weight.into_primitive(),
            options,
        )),
    }
}

impl<C: CheckpointStrategy> HeistConv for Autodiff<Flex, C> {
    fn heist_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        record::<_, C>(Convolution, x, weight, options)
    }

    fn heist_conv_transpose2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        record::<_, C>(Transposed, x, weight, options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::Device;

    fn input(shape: [usize; 4], device: &Device) -> Tensor<4> {
        let values = kernels::tests::values(shape.iter().product(), 0);
        Tensor::from_data(TensorData::new(values, shape), device).require_grad()
    }

    /// The output, and the gradients of `sum(output * output)` with respect to the input and
    /// the module's weight and bias.
    fn run<M>(
        module: &M,
        x: Tensor<4>,
        f: impl Fn(&M, Tensor<4>) -> Tensor<4>,
        weight: impl Fn(&M) -> (Tensor<4>, Tensor<1>),
    ) -> Vec<Vec<f32>> {
        let y = f(module, x.clone());
        let grads = (y.clone() * y.clone()).sum().backward();
        let (w, b) = weight(module);
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        vec![
            values(y),
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
            b.grad(&grads)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
        ]
    }

    fn assert_close(ours: &[Vec<f32>], burns: &[Vec<f32>], what: &str) {
        for (name, (a, b)) in [
            "output",
            "input gradient",
            "weight gradient",
            "bias gradient",
        ]
        .iter()
        .zip(ours.iter().zip(burns))
        {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            assert_eq!(a.len(), b.len(), "{what}: {name}");
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-5 * scale, "{what}: {name}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn convolutions_match_burns_forward_and_backward() {
        let device = Device::flex().autodiff();
        for (kernel, stride, padding, size) in [(3, 1, 1, 9), (4, 2, 1, 18), (7, 1, 0, 14)] {
            let conv = Conv2dConfig::new([3, 5], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(
                    padding, padding, padding, padding,
                ))
                .init(&device);
            let weights = |c: &Conv2d| (c.weight.val(), c.bias.as_ref().unwrap().val());
            let x = || input([2, 3, size, size], &device);
            let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
            assert!(geometry(&x().dims(), &conv.weight.dims(), &options).is_some());
            let ours = run(&conv, x(), forward, weights);
            let burns = run(&conv, x(), |c, x| c.forward(x), weights);
            assert_close(&ours, &burns, &format!("conv {kernel}x{kernel}/{stride}"));
        }
    }

    #[test]
    fn transposed_convolutions_match_burns_forward_and_backward() {
        let device = Device::flex().autodiff();
        // Pix2Pix's up-sampling (4x4/2, padding 1) and CycleGAN's (3x3/2, padding 1, output
        // padding 1).
        for (kernel, padding_out) in [(4, 0), (3, 1)] {
            let conv = ConvTranspose2dConfig::new([5, 3], [kernel, kernel])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([padding_out, padding_out])
                .init(&device);
            let weights = |c: &ConvTranspose2d| (c.weight.val(), c.bias.as_ref().unwrap().val());
            let x = || input([2, 5, 9, 8], &device);
            let options = ConvTransposeOptions::new([2, 2], [1, 1], [padding_out; 2], [1, 1], 1);
            assert!(transposed_geometry(&x().dims(), &conv.weight.dims(), &options).is_some());
            let ours = run(&conv, x(), forward_transposed, weights);
            let burns = run(&conv, x(), |c, x| c.forward(x), weights);
            assert_close(&ours, &burns, &format!("transposed {kernel}x{kernel}"));
        }
    }
}
