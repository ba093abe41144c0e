//! Adam on libtorch: PyTorch's fused CPU/CUDA update (`at::_fused_adam_`, through the op
//! layer's [`ffi`]) on each parameter's own device, with the moments kept there and moved to the
//! host only for a checkpoint. Adam belongs here, with the host update in [`super::adam`]; the
//! `torch` folder is the op layer and knows nothing of optimisers.

#![allow(deprecated)]

use burn::backend::libtorch::TchTensor;
use burn::backend::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn::tensor::Tensor;

use super::adam::{self, AdamSettings};
use crate::engine::torch::ffi;

/// Adam's moments of one parameter on its libtorch device.
#[derive(Debug)]
pub struct Moments {
    pub step: u64,
    pub first: tch::Tensor,
    pub second: tch::Tensor,
}

impl Clone for Moments {
    fn clone(&self) -> Moments {
        Moments {
            step: self.step,
            first: self.first.copy(),
            second: self.second.copy(),
        }
    }
}

impl Moments {
    /// The moments on the host, for a checkpoint.
    pub fn to_host(&self) -> adam::Moments {
        let values = |t: &tch::Tensor| {
            Vec::<f32>::try_from(&t.flatten(0, -1)).expect("f32 moments on libtorch")
        };
        adam::Moments {
            step: self.step,
            first: values(&self.first),
            second: values(&self.second),
        }
    }

    /// Moments from a checkpoint, moved to the parameter's device at its next step.
    pub fn from_host(m: &adam::Moments) -> Moments {
        Moments {
            step: m.step,
            first: tch::Tensor::from_slice(&m.first),
            second: tch::Tensor::from_slice(&m.second),
        }
    }
}

fn into_tch<const D: usize>(t: Tensor<D>) -> TchTensor {
    match t.into_dispatch().kind {
        DispatchTensorKind::LibTorch(BackendTensor::Float(t)) => t,
        other => panic!("expected a libtorch float tensor, found {other:?}"),
    }
}

fn from_tch<const D: usize>(t: TchTensor) -> Tensor<D> {
    Tensor::from_dispatch(DispatchTensor {
        kind: DispatchTensorKind::LibTorch(BackendTensor::Float(t)),
        autodiff: DispatchAutodiffContext::Disabled,
    })
}

/// One Adam step of `param` with gradient `grad`, as PyTorch's fused Adam
/// (`torch.optim.Adam(fused=True)`: one pass over the parameter, its gradient and its moments),
/// in place where burn holds no other reference to the parameter's values and on a copy where
/// it does; the parameter keeps its autodiff association. `moments` is `None` before the first
/// step; the updated moments come back with the parameter.
pub fn adam_update<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<Moments>,
    lr: f64,
    s: &AdamSettings,
) -> (Tensor<D>, Moments) {
    let autodiff = param.is_autodiff();
    let p = into_tch(param.without_autodiff());
    let g = into_tch(grad.without_autodiff()).tensor.contiguous();
    let mut m = moments.unwrap_or_else(|| Moments {
        step: 0,
        first: g.zeros_like(),
        second: g.zeros_like(),
    });
    let (device, shape) = (g.device(), g.size());
    if m.first.device() != device || m.first.size() != shape {
        // Moments restored from a checkpoint: flat, on the host.
        m.first = m.first.to_device(device).reshape(&shape).contiguous();
        m.second = m.second.to_device(device).reshape(&shape).contiguous();
    }
    m.step += 1;
    // The module the optimiser was given usually still shares the parameter's values with the
    // one it replaces, so those are copied (one pass) rather than changed under it.
    let mut updated = match (p.can_mut(), p.tensor.is_contiguous()) {
        (true, true) => p,
        (false, true) => {
            let mut copy = p.tensor.empty_like();
            copy.copy_(&p.tensor);
            TchTensor::new(copy)
        }
        (_, false) => TchTensor::new(p.tensor.contiguous()),
    };
    ffi::fused_adam(
        &mut updated.tensor,
        &g,
        &mut m.first,
        &mut m.second,
        &ffi::AdamStep {
            step: m.step,
            lr,
            betas: s.betas,
            weight_decay: s.weight_decay,
            epsilon: s.epsilon,
        },
    );
    let updated = from_tch(updated);
    (
        if autodiff {
            updated.autodiff()
        } else {
            updated
        },
        m,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn adam_matches_the_host_update() {
        let s = AdamSettings {
            betas: [0.5, 0.999],
            epsilon: 1e-8,
            weight_decay: 0.1,
        };
        let device = Device::libtorch();
        // Enough values for the fused kernel's vector loop and a tail.
        let n = 1003;
        let start: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let mut param = Tensor::<1>::from_data(TensorData::new(start.clone(), [n]), &device);
        let mut moments = None;
        let mut host = start;
        let mut host_moments = adam::Moments {
            step: 0,
            first: vec![0.0; n],
            second: vec![0.0; n],
        };
        for t in 1..=3 {
            let g: Vec<f32> = (0..n)
                .map(|i| [0.5f32, -1.0, 2.0, 0.0][i % 4] * t as f32 + (i % 7) as f32 * 0.01)
                .collect();
            let grad = Tensor::<1>::from_data(TensorData::new(g.clone(), [n]), &device);
            // In odd steps a second reference to the parameter, as the module being replaced
            // holds: the update must leave its values alone (in even steps it is in place).
            let before = (t % 2 == 1).then(|| (param.clone(), values(param.clone())));
            let (updated, m) = adam_update(param, grad, moments.take(), 0.01, &s);
            if let Some((before, values_before)) = before {
                assert_eq!(values(before), values_before);
            }
            (param, moments) = (updated, Some(m));
            adam::update(&mut host, &g, &mut host_moments, 0.01, &s);
        }
        let m = moments.unwrap().to_host();
        assert_eq!(m.step, 3);
        for (ours, theirs) in [
            (values(param), host),
            (m.first, host_moments.first),
            (m.second, host_moments.second),
        ] {
            for (a, b) in ours.iter().zip(&theirs) {
                assert!((a - b).abs() < 1e-6, "{ours:?} vs {theirs:?}");
            }
        }
    }
}
