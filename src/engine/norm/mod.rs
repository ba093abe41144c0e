//! Batch and instance normalisation for heist's networks. While training on the CPU default
//! (flex) they run heist's own kernels ([`kernels`]), forward and backward as one operation
//! each, as a burn backend extension; on libtorch they are libtorch's own ([`crate::engine::torch`]);
//! elsewhere (CUDA, inference on flex) they are burn's modules unchanged.
//!
//! Why: burn builds them out of a dozen tensor operations, each a serial pass on flex, which
//! left one of two cores idle for a third of a training step.

pub mod kernels;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Dispatch, Flex};
use burn::nn::{BatchNorm, InstanceNorm};
use burn::tensor::{Tensor, TensorData};

use crate::engine::flex_kernels::{applies, f32_values};
use kernels::{Groups, Layout};

/// `norm.forward(x)`; while training on the CPU default, through heist's kernels. The running
/// statistics are updated as burn updates them (with the batch's biased variance).
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    #[cfg(feature = "tch")]
    if training && crate::engine::torch::applies(&x) {
        let (gamma, beta) = (norm.gamma.val(), norm.beta.val());
        let (y, statistics) = crate::engine::torch::batch_norm(x, gamma, beta, norm.epsilon);
        update_running(norm, statistics);
        return y;
    }
    #[cfg(feature = "tch")]
    if !training && crate::engine::torch::applies(&x) {
        let parameters = [
            norm.gamma.val(),
            norm.beta.val(),
            norm.running_mean.value().to_device(&x.device()),
            norm.running_var.value().to_device(&x.device()),
        ];
        return crate::engine::torch::batch_norm_inference(x, parameters, norm.epsilon);
    }
    if !training || !applies(&x) {
        return norm.forward(x);
    }
    let statistics = statistics(&x, Groups::Channel);
    update_running(norm, statistics.clone());
    normalize(
        x,
        norm.gamma.val(),
        norm.beta.val(),
        statistics,
        Groups::Channel,
        norm.epsilon,
    )
}

/// Moves the running statistics of `norm` towards the batch's `statistics` (mean, biased
/// variance), as burn's `BatchNorm` does.
fn update_running(norm: &BatchNorm, statistics: Tensor<2>) {
    let channels = statistics.dims()[1];
    let momentum = norm.momentum;
    let device = statistics.device();
    let update = |running: Tensor<1>, batch: Tensor<1>| {
        (running.to_device(&device) * (1.0 - momentum) + batch * momentum).detach()
    };
    let batch = |row: usize| statistics.clone().narrow(0, row, 1).reshape([channels]);
    norm.running_mean
        .update(update(norm.running_mean.value_sync(), batch(0)));
    norm.running_var
        .update(update(norm.running_var.value_sync(), batch(1)));
}

/// `norm.forward(x)`, through heist's kernels on the CPU default.
pub fn instance_norm(norm: &InstanceNorm, x: Tensor<4>) -> Tensor<4> {
    let channels = x.dims()[1];
    let device = x.device();
    let gamma = || {
        let gamma = norm.gamma.as_ref().map(|g| g.val());
        gamma.unwrap_or_else(|| Tensor::ones([channels], &device))
    };
    let beta = || {
        let beta = norm.beta.as_ref().map(|b| b.val());
        beta.unwrap_or_else(|| Tensor::zeros([channels], &device))
    };
    #[cfg(feature = "tch")]
    if crate::engine::torch::applies(&x) {
        return crate::engine::torch::instance_norm(x, gamma(), beta(), norm.epsilon);
    }
    if !applies(&x) {
        return norm.forward(x);
    }
    let statistics = statistics(&x, Groups::Plane);
    normalize(x, gamma(), beta(), statistics, Groups::Plane, norm.epsilon)
}

/// The mean (row 0) and biased variance (row 1) of each group, `[2, groups]`.
fn statistics(x: &Tensor<4>, groups: Groups) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as HeistNorm>::heist_norm_statistics(
        x.clone().into_dispatch(),
        groups,
    ))
}

fn normalize(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    statistics: Tensor<2>,
    groups: Groups,
    epsilon: f64,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as HeistNorm>::heist_normalize(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        statistics.into_dispatch(),
        groups,
        epsilon,
    ))
}

#[backend_extension(Flex, Autodiff)]
pub trait HeistNorm: burn::backend::Backend {
    /// The mean and biased variance of each group of `x` `[n, c, h, w]`, `[2, groups]`; not
    /// differentiated.
    fn heist_norm_statistics(x: FloatTensor<Self>, groups: Groups) -> FloatTensor<Self>;

    /// `(x - mean) / sqrt(var + epsilon) * gamma + beta` with `statistics` from
    /// [`HeistNorm::heist_norm_statistics`] of `x` itself: differentiated as one operation,
    /// the statistics as functions of `x`.
    fn heist_normalize(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        statistics: FloatTensor<Self>,
        groups: Groups,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

fn layout(x: &FlexTensor) -> Layout {
    let shape = x.layout().shape();
    Layout {
        batch: shape[0],
        channels: shape[1],
        pixels: shape[2..].iter().product(),
    }
}

/// The mean and variance rows of `statistics` `[2, groups]`.
fn rows(statistics: &FlexTensor) -> (Vec<f32>, Vec<f32>) {
    let s = f32_values(statistics);
    let v = s.storage::<f32>();
    let half = v.len() / 2;
    (v[..half].to_vec(), v[half..].to_vec())
}

impl HeistNorm for Flex {
    fn heist_norm_statistics(x: FlexTensor, groups: Groups) -> FlexTensor {
        let l = layout(&x);
        let (mean, var) = kernels::statistics(f32_values(&x).storage::<f32>(), &l, groups);
        let g = mean.len();
        FlexTensor::from_data(TensorData::new([mean, var].concat(), [2, g]))
    }

    fn heist_normalize(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        statistics: FlexTensor,
        groups: Groups,
        epsilon: f64,
    ) -> FlexTensor {
        let l = layout(&x);
        let (mean, var) = rows(&statistics);
        let (gamma, beta) = (f32_values(&gamma), f32_values(&beta));
        let y = kernels::normalize(
            f32_values(&x).storage::<f32>(),
            &l,
            groups,
            &mean,
            &var,
            gamma.storage::<f32>(),
            beta.storage::<f32>(),
            epsilon,
        );
        FlexTensor::from_data(TensorData::new(y, x.layout().shape().to_vec()))
    }
}

/// The autodiff node of [`HeistNorm::heist_normalize`]: it keeps the input, `gamma` and the
/// statistics for the backward pass.
#[derive(Debug)]
struct NormNode;

impl Backward<Flex, 3> for NormNode {
    type State = (NodeId, NodeId, FlexTensor, Groups, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let dy = f32_values(&grads.consume::<Flex>(&ops.node));
        let (x_state, gamma_state, statistics, groups, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let gamma = f32_values(&checkpointer.retrieve_node_output::<FlexTensor>(gamma_state));
        let (mean, var) = rows(&statistics);
        let l = layout(&x);
        let g = kernels::backward(
            f32_values(&x).storage::<f32>(),
            dy.storage::<f32>(),
            &l,
            groups,
            &mean,
            &var,
            gamma.storage::<f32>(),
            epsilon,
        );
        let shape = x.layout().shape().to_vec();
        let tensor =
            |v: Vec<f32>, shape: Vec<usize>| FlexTensor::from_data(TensorData::new(v, shape));
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(g.x, shape));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, tensor(g.gamma, vec![l.channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, tensor(g.beta, vec![l.channels]));
        }
    }
}

impl<C: CheckpointStrategy> HeistNorm for Autodiff<Flex, C> {
    fn heist_norm_statistics(x: FloatTensor<Self>, groups: Groups) -> FloatTensor<Self> {
        FloatTensor::<Self>::new(Flex::heist_norm_statistics(x.into_primitive(), groups))
    }

    fn heist_normalize(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        statistics: FloatTensor<Self>,
        groups: Groups,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        let statistics = statistics.into_primitive();
        let forward = |x: FloatTensor<Self>, gamma: FloatTensor<Self>, beta: FloatTensor<Self>| {
            Flex::heist_normalize(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
                statistics.clone(),
                groups,
                epsilon,
            )
        };
        match NormNode
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let y = forward(x, gamma, beta);
                prep.finish((x_state, gamma_state, statistics, groups, epsilon), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(forward(x, gamma, beta)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{BatchNormConfig, InstanceNormConfig};
    use burn::tensor::Device;

    fn input(device: &Device) -> Tensor<4> {
        let values = crate::engine::conv::kernels::tests::values(3 * 4 * 5 * 6, 0);
        let values: Vec<f32> = values.iter().map(|v| v * 2.0 + 0.5).collect();
        Tensor::from_data(TensorData::new(values, [3, 4, 5, 6]), device).require_grad()
    }

    /// The output, and the gradients of `sum(output^2 * w)` with respect to the input and to
    /// the parameters `params` names.
    fn run<M>(
        module: &M,
        f: impl Fn(&M, Tensor<4>) -> Tensor<4>,
        params: impl Fn(&M) -> Vec<Tensor<1>>,
    ) -> Vec<Vec<f32>> {
        let device = Device::flex().autodiff();
        let x = input(&device);
        let w = Tensor::<4>::from_data(
            TensorData::new(
                crate::engine::conv::kernels::tests::values(360, 7),
                [3, 4, 5, 6],
            ),
            &device,
        );
        let y = f(module, x.clone());
        let grads = (y.clone() * y.clone() * w).sum().backward();
        let values = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let mut out = vec![values(y), values(x.grad(&grads).unwrap())];
        for p in params(module) {
            out.push(
                p.grad(&grads)
                    .unwrap()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
        }
        out
    }

    fn assert_close(ours: &[Vec<f32>], burns: &[Vec<f32>], what: &str) {
        assert_eq!(ours.len(), burns.len());
        for (k, (a, b)) in ours.iter().zip(burns).enumerate() {
            let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            assert_eq!(a.len(), b.len(), "{what}: value {k}");
            for (x, y) in a.iter().zip(b) {
                assert!(
                    (x - y).abs() <= 1e-5 * scale,
                    "{what}: value {k}: {x} vs {y}"
                );
            }
        }
    }

    #[test]
    fn batch_norm_matches_burns_in_training_with_its_running_statistics() {
        let device = Device::flex().autodiff();
        let (ours, burns) = (
            BatchNormConfig::new(4).init(&device),
            BatchNormConfig::new(4).init(&device),
        );
        assert!(applies(&input(&device)));
        let params = |n: &BatchNorm| vec![n.gamma.val(), n.beta.val()];
        assert_close(
            &run(&ours, batch_norm, params),
            &run(&burns, |n, x| n.forward(x), params),
            "batch norm",
        );
        let running = |n: &BatchNorm| {
            [n.running_mean.value(), n.running_var.value()]
                .map(|t| t.into_data().try_to_vec::<f32>().unwrap())
                .to_vec()
        };
        assert_close(&running(&ours), &running(&burns), "running statistics");
    }

    #[test]
    fn instance_norm_matches_burns_with_and_without_affine_parameters() {
        let device = Device::flex().autodiff();
        assert!(applies(&input(&device)));
        for affine in [false, true] {
            let norm = InstanceNormConfig::new(4).with_affine(affine).init(&device);
            let params = |n: &InstanceNorm| {
                [&n.gamma, &n.beta]
                    .into_iter()
                    .flatten()
                    .map(|p| p.val())
                    .collect()
            };
            assert_close(
                &run(&norm, instance_norm, params),
                &run(&norm, |n, x| n.forward(x), params),
                &format!("instance norm, affine {affine}"),
            );
        }
    }
}
