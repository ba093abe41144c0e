//! 2-D convolutions for heist's networks. On the CPU default (flex) they run heist's own
//! im2col kernels ([`kernels`]) forward and backward, as a burn backend extension with its own
//! backward pass; on libtorch and CUDA they are burn's `conv2d`, on the device's kernels.
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
use burn::nn::conv::Conv2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};

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
    let flex = x.device().without_autodiff() == Device::flex();
    if !flex || geometry(&x.dims(), &weight.dims(), &options).is_none() {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    }
    let y = Tensor::<4>::from_dispatch(<Dispatch as HeistConv>::heist_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ));
    match bias {
        Some(b) => {
            let channels = b.dims()[0];
            y + b.reshape([1, channels, 1, 1])
        }
        None => y,
    }
}

/// The geometry of a convolution heist's kernels compute (groups 1, no dilation, the same
/// padding on both sides), or `None`.
fn geometry(x: &[usize; 4], w: &[usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
    let begin = options.padding_begin();
    let symmetric = !options.is_asymmetric();
    (options.groups == 1 && options.dilation == [1, 1] && symmetric && x[1] == w[1]).then(|| {
        Geometry {
            batch: x[0],
            channels_in: x[1],
            channels_out: w[0],
            input: [x[2], x[3]],
            kernel: [w[2], w[3]],
            stride: options.stride,
            padding: begin,
        }
    })
}

#[backend_extension(Flex, Autodiff)]
pub trait HeistConv: burn::backend::Backend {
    /// A convolution without bias.
    fn heist_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
}

fn dims(t: &FlexTensor) -> [usize; 4] {
    let shape = t.layout().shape();
    std::array::from_fn(|i| shape[i])
}

fn flex_tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Runs `f` on the f32 values of `x` and `w` when heist's kernels apply to them; `None` sends
/// the caller to flex's own operation.
fn with_values<R>(
    x: &FlexTensor,
    w: &FlexTensor,
    options: &ConvOptions<2>,
    f: impl FnOnce(&[f32], &[f32], &Geometry) -> R,
) -> Option<R> {
    if x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return None;
    }
    let g = geometry(&dims(x), &dims(w), options)?;
    let (x, w) = (x.to_contiguous(), w.to_contiguous());
    Some(f(x.storage::<f32>(), w.storage::<f32>(), &g))
}

impl HeistConv for Flex {
    fn heist_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        with_values(&x, &weight, &options, |x, w, g| {
            let [ho, wo] = g.output();
            flex_tensor(kernels::forward(x, w, g), [g.batch, g.channels_out, ho, wo])
        })
        .unwrap_or_else(|| Flex::conv2d(x, weight, None, options))
    }
}

#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 2> for ConvBackward {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_w] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, w_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let w = checkpointer.retrieve_node_output::<FlexTensor>(w_state);
        let grad = grad.to_contiguous();
        let dy = grad.storage::<f32>();
        if let Some(node) = node_x {
            let dx = with_values(&x, &w, &options, |_, w, g| {
                flex_tensor(
                    kernels::input_grad(w, dy, g),
                    [g.batch, g.channels_in, g.input[0], g.input[1]],
                )
            })
            .unwrap_or_else(|| {
                Flex::conv2d_x_backward(x.clone(), w.clone(), grad.clone(), options.clone())
            });
            grads.register::<Flex>(node.id, dx);
        }
        if let Some(node) = node_w {
            let dw = with_values(&x, &w, &options, |x, _, g| {
                flex_tensor(
                    kernels::weight_grad(x, dy, g),
                    [g.channels_out, g.channels_in, g.kernel[0], g.kernel[1]],
                )
            })
            .unwrap_or_else(|| Flex::conv2d_weight_backward(x, w, grad.clone(), options));
            grads.register::<Flex>(node.id, dw);
        }
    }
}

impl<C: CheckpointStrategy> HeistConv for Autodiff<Flex, C> {
    fn heist_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match ConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let w_state = prep.checkpoint(&weight);
                let y = Flex::heist_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    options.clone(),
                );
                prep.finish((x_state, w_state, options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::heist_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
            )),
        }
    }
}
