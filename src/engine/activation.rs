//! ReLU, LeakyReLU and PReLU for heist's networks: `x > 0 ? x : a * x`, with `a` zero, a
//! constant, one learned value, or one per channel (and tanh). On the CPU default (flex) the
//! first three are one parallel pass forward and one backward, as a burn backend extension; on
//! libtorch all four are libtorch's operations ([`crate::engine::torch`]); elsewhere burn's
//! functions.
//!
//! Why: burn's autodiff differentiates both as a comparison, a product and a `mask_where`
//! (and their backward passes), each a serial pass over the activation on flex.
//!
//! The gradient at exactly 0 is PyTorch's: `a` for the input, and 0 for `a`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Dispatch, Flex};
use burn::nn::PRelu;
use burn::tensor::{Tensor, TensorData};

use crate::engine::flex_kernels::{applies, f32_values, fill_planes, map_planes};

/// `burn::tensor::activation::leaky_relu(x, slope)`, through heist's kernel on the CPU default
/// (and libtorch's `leaky_relu` on libtorch: its backward pass, unlike `prelu`'s, computes no
/// gradient for the slope).
pub fn leaky_relu(x: Tensor<4>, slope: f64) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if on_libtorch(&x) {
        return crate::engine::torch::unary(x, crate::engine::torch::Unary::LeakyRelu(slope));
    }
    if !applies(&x) {
        return burn::tensor::activation::leaky_relu(x, slope);
    }
    let device = x.device();
    prelu_with(x, Tensor::full([1], slope, &device))
}

/// `prelu.forward(x)`, through heist's kernel on the CPU default.
pub fn prelu(prelu: &PRelu, x: Tensor<4>) -> Tensor<4> {
    let alpha = prelu.alpha.val();
    if !(applies(&x) || on_libtorch(&x)) || ![1, x.dims()[1]].contains(&alpha.dims()[0]) {
        return prelu.forward(x);
    }
    prelu_with(x, alpha)
}

/// `burn::tensor::activation::relu(x)`, through heist's kernel on the CPU default (the same
/// values; burn's is a serial pass there), and libtorch's forward and backward on libtorch.
pub fn relu(x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if on_libtorch(&x) {
        return crate::engine::torch::unary(x, crate::engine::torch::Unary::Relu);
    }
    if !applies(&x) {
        return burn::tensor::activation::relu(x);
    }
    Tensor::from_dispatch(<Dispatch as HeistActivation>::heist_relu(x.into_dispatch()))
}

/// `burn::tensor::activation::tanh(x)`; on libtorch, libtorch's forward and backward.
pub fn tanh(x: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if on_libtorch(&x) {
        return crate::engine::torch::unary(x, crate::engine::torch::Unary::Tanh);
    }
    burn::tensor::activation::tanh(x)
}

/// Whether `x` is on libtorch, where [`crate::engine::torch`] runs PReLU.
fn on_libtorch(x: &Tensor<4>) -> bool {
    #[cfg(feature = "tch")]
    return crate::engine::torch::applies(x);
    #[cfg(not(feature = "tch"))]
    return {
        let _ = x;
        false
    };
}

fn prelu_with(x: Tensor<4>, alpha: Tensor<1>) -> Tensor<4> {
    #[cfg(feature = "tch")]
    if crate::engine::torch::applies(&x) {
        return crate::engine::torch::prelu(x, alpha);
    }
    Tensor::from_dispatch(<Dispatch as HeistActivation>::heist_prelu(
        x.into_dispatch(),
        alpha.into_dispatch(),
    ))
}

#[backend_extension(Flex, Autodiff)]
pub trait HeistActivation: burn::backend::Backend {
    /// `x > 0 ? x : alpha * x` for `x` `[n, c, h, w]`, `alpha` `[1]` or `[c]`.
    fn heist_prelu(x: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `x > 0 ? x : 0` for `x` `[n, c, h, w]`, NaN kept, as burn-flex's `relu`.
    fn heist_relu(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// burn-flex's ReLU and its gradient: a NaN input passes through, and so does its gradient.
fn relu_keeps(x: f32) -> bool {
    x.is_nan() || x > 0.0
}

/// Pixels per plane and channels of `x` `[n, c, h, w]`.
fn planes(x: &FlexTensor) -> (usize, usize) {
    let shape = x.layout().shape();
    (shape[2..].iter().product::<usize>(), shape[1])
}

/// Which of `alpha`'s `len` slopes plane `p` takes: the only one, or its channel's.
fn slope_index(len: usize, channels: usize, p: usize) -> usize {
    if len == 1 {
        0
    } else {
        p % channels
    }
}

impl HeistActivation for Flex {
    fn heist_prelu(x: FlexTensor, alpha: FlexTensor) -> FlexTensor {
        let (s, c) = planes(&x);
        let (values, alpha) = (f32_values(&x), f32_values(&alpha));
        let alpha = alpha.storage::<f32>();
        let y = fill_planes(s, [values.storage::<f32>()], |p, y, [x]| {
            let a = alpha[slope_index(alpha.len(), c, p)];
            for (y, &x) in y.iter_mut().zip(x) {
                *y = if x > 0.0 { x } else { a * x };
            }
        });
        FlexTensor::from_data(TensorData::new(y, x.layout().shape().to_vec()))
    }

    fn heist_relu(x: FlexTensor) -> FlexTensor {
        let (s, _) = planes(&x);
        let values = f32_values(&x);
        let y = fill_planes(s, [values.storage::<f32>()], |_, y, [x]| {
            for (y, &x) in y.iter_mut().zip(x) {
                *y = if relu_keeps(x) { x } else { 0.0 };
            }
        });
        FlexTensor::from_data(TensorData::new(y, x.layout().shape().to_vec()))
    }
}

#[derive(Debug)]
struct ReluNode;

impl Backward<Flex, 1> for ReluNode {
    type State = NodeId;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [Some(node)] = ops.parents else {
            return;
        };
        let dy = f32_values(&grads.consume::<Flex>(&ops.node));
        let x = f32_values(&checkpointer.retrieve_node_output::<FlexTensor>(ops.state));
        let (s, _) = planes(&x);
        let dx = fill_planes(
            s,
            [x.storage::<f32>(), dy.storage::<f32>()],
            |_, dx, [x, dy]| {
                for ((dx, &x), &d) in dx.iter_mut().zip(x).zip(dy) {
                    *dx = if relu_keeps(x) { d } else { 0.0 };
                }
            },
        );
        let shape = x.layout().shape().to_vec();
        grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape)));
    }
}

#[derive(Debug)]
struct PreluNode;

impl Backward<Flex, 2> for PreluNode {
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_alpha] = ops.parents;
        let dy = f32_values(&grads.consume::<Flex>(&ops.node));
        let (x_state, alpha_state) = ops.state;
        let x = f32_values(&checkpointer.retrieve_node_output::<FlexTensor>(x_state));
        let alpha = f32_values(&checkpointer.retrieve_node_output::<FlexTensor>(alpha_state));
        let (s, c) = planes(&x);
        let (xv, dyv, av) = (
            x.storage::<f32>(),
            dy.storage::<f32>(),
            alpha.storage::<f32>(),
        );
        if let Some(node) = node_x {
            let dx = fill_planes(s, [xv, dyv], |p, dx, [x, dy]| {
                let a = av[slope_index(av.len(), c, p)];
                for ((dx, &x), &d) in dx.iter_mut().zip(x).zip(dy) {
                    *dx = if x > 0.0 { d } else { a * d };
                }
            });
            let shape = x.layout().shape().to_vec();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape)));
        }
        if let Some(node) = node_alpha {
            // per plane, then per slope in plane order (deterministic across thread counts)
            let parts: Vec<f64> = map_planes(s, [xv, dyv], |_, [x, dy]| {
                x.iter()
                    .zip(dy)
                    .filter(|(&x, _)| x <= 0.0)
                    .map(|(&x, &d)| x as f64 * d as f64)
                    .sum()
            });
            let mut da = vec![0.0f64; av.len()];
            for (p, part) in parts.iter().enumerate() {
                da[slope_index(av.len(), c, p)] += part;
            }
            let da: Vec<f32> = da.into_iter().map(|v| v as f32).collect();
            let n = da.len();
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(da, [n])));
        }
    }
}

impl<C: CheckpointStrategy> HeistActivation for Autodiff<Flex, C> {
    fn heist_prelu(x: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self> {
        match PreluNode
            .prepare::<C>([x.node(), alpha.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let alpha_state = prep.checkpoint(&alpha);
                let y = Flex::heist_prelu(x.into_primitive(), alpha.into_primitive());
                prep.finish((x_state, alpha_state), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::heist_prelu(
                x.into_primitive(),
                alpha.into_primitive(),
            )),
        }
    }

    fn heist_relu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match ReluNode.prepare::<C>([x.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, Flex::heist_relu(x.into_primitive()))
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::heist_relu(x.into_primitive())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::PReluConfig;
    use burn::tensor::Device;

    /// Values in [-1, 1) with some exact zeros.
    fn input(device: &Device) -> Tensor<4> {
        let mut values = crate::engine::conv::kernels::tests::values(2 * 3 * 4 * 5, 0);
        values[7] = 0.0;
        values[50] = 0.0;
        Tensor::from_data(TensorData::new(values, [2, 3, 4, 5]), device).require_grad()
    }

    /// The output and the gradients of `sum(output * w)` for the input and `alpha`.
    fn run(f: impl Fn(Tensor<4>) -> Tensor<4>, alpha: Option<&PRelu>) -> Vec<Vec<f32>> {
        let device = Device::flex().autodiff();
        let x = input(&device);
        let w = Tensor::<4>::from_data(
            TensorData::new(
                crate::engine::conv::kernels::tests::values(120, 9),
                [2, 3, 4, 5],
            ),
            &device,
        );
        let y = f(x.clone());
        let grads = (y.clone() * w).sum().backward();
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let mut out = vec![values(y), values(x.grad(&grads).unwrap())];
        if let Some(p) = alpha {
            let da = p.alpha.grad(&grads).unwrap();
            out.push(da.into_data().try_to_vec::<f32>().unwrap());
        }
        out
    }

    /// burn's leaky_relu and PReLU (whose gradient at exactly 0 is 1) agree everywhere but at
    /// the zeros, where heist gives PyTorch's `a`.
    fn assert_close(ours: &[Vec<f32>], burns: &[Vec<f32>], slope_at_zero: &[f32], what: &str) {
        let zeros = [7, 50];
        for (k, (a, b)) in ours.iter().zip(burns).enumerate() {
            assert_eq!(a.len(), b.len(), "{what}: value {k}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let expected = if k == 1 && zeros.contains(&i) {
                    y * slope_at_zero[(i / 20) % 3 % slope_at_zero.len()]
                } else {
                    *y
                };
                assert!(
                    (x - expected).abs() <= 1e-5,
                    "{what}: value {k}[{i}]: {x} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn relu_matches_burns_bit_for_bit() {
        assert_eq!(
            run(relu, None),
            run(burn::tensor::activation::relu, None),
            "relu"
        );
    }

    #[test]
    fn leaky_relu_and_prelu_match_burns_forward_and_backward() {
        let device = Device::flex().autodiff();
        assert!(applies(&input(&device)));
        assert_close(
            &run(|x| leaky_relu(x, 0.2), None),
            &run(|x| burn::tensor::activation::leaky_relu(x, 0.2), None),
            &[0.2],
            "leaky_relu",
        );
        for parameters in [1, 3] {
            let p = PReluConfig::new()
                .with_num_parameters(parameters)
                .with_alpha(0.3)
                .init(&device);
            let alphas = vec![0.3; parameters];
            assert_close(
                &run(|x| prelu(&p, x), Some(&p)),
                &run(|x| p.forward(x), Some(&p)),
                &alphas,
                &format!("prelu, {parameters} parameters"),
            );
        }
    }
}
