//! The bindings of `ffi.cpp`: the libtorch calls tch does not bind.

use std::ffi::{c_char, c_int, CStr};

use torch_sys::C_tensor;

extern "C" {
    fn heist_autograd_grad(
        outputs: *const *mut C_tensor,
        output_grads: *const *mut C_tensor,
        n: c_int,
        inputs: *const *mut C_tensor,
        n_inputs: c_int,
        results: *mut *mut C_tensor,
    ) -> *mut c_char;
    fn heist_leaky_relu(x: *mut C_tensor, slope: f64, result: *mut *mut C_tensor) -> *mut c_char;
    fn heist_fused_adam(
        param: *mut C_tensor,
        grad: *mut C_tensor,
        exp_avg: *mut C_tensor,
        exp_avg_sq: *mut C_tensor,
        step: f64,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
    ) -> *mut c_char;
    fn heist_free_message(message: *mut c_char);
}

fn pointer(t: &tch::Tensor) -> *mut C_tensor {
    t.as_ptr() as *mut C_tensor
}

/// Panics with libtorch's message where a call returned one.
///
/// # Safety
/// `error` is null or a message from `ffi.cpp`, not yet freed.
unsafe fn check(call: &str, error: *mut c_char) {
    if !error.is_null() {
        let message = CStr::from_ptr(error).to_string_lossy().into_owned();
        heist_free_message(error);
        panic!("libtorch's {call} failed: {message}");
    }
}

/// The gradients of `output`, whose gradient is `output_grad`, with respect to each of
/// `inputs` (leaves of its graph that require gradients); the graph is freed.
pub fn grad(
    output: &tch::Tensor,
    output_grad: &tch::Tensor,
    inputs: &[&tch::Tensor],
) -> Vec<tch::Tensor> {
    let (outputs, output_grads) = ([pointer(output)], [pointer(output_grad)]);
    let inputs: Vec<*mut C_tensor> = inputs.iter().map(|t| pointer(t)).collect();
    let mut results = vec![std::ptr::null_mut(); inputs.len()];
    // SAFETY: every pointer is a live tch tensor for the length of the call; the results are
    // new tensors whose ownership passes to the `tch::Tensor`s made of them.
    unsafe {
        let error = heist_autograd_grad(
            outputs.as_ptr(),
            output_grads.as_ptr(),
            1,
            inputs.as_ptr(),
            inputs.len() as c_int,
            results.as_mut_ptr(),
        );
        check("autograd", error);
        results
            .into_iter()
            .map(|r| tch::Tensor::from_ptr(r))
            .collect()
    }
}

/// `x > 0 ? x : slope * x`, recorded by libtorch's autograd where `x` requires gradients.
pub fn leaky_relu(x: &tch::Tensor, slope: f64) -> tch::Tensor {
    let mut result = std::ptr::null_mut();
    // SAFETY: `x` is live for the call; the result is a new tensor the `tch::Tensor` owns.
    unsafe {
        check(
            "leaky_relu",
            heist_leaky_relu(pointer(x), slope, &mut result),
        );
        tch::Tensor::from_ptr(result)
    }
}

/// Adam's hyperparameters for one step of [`fused_adam`].
pub struct AdamStep {
    /// This step's number, 1 for the first.
    pub step: u64,
    pub lr: f64,
    pub betas: [f64; 2],
    pub weight_decay: f64,
    pub epsilon: f64,
}

/// One step of PyTorch's fused Adam, in place on `param` and the moments (contiguous tensors
/// of one shape, on one device, that nothing else reads).
pub fn fused_adam(
    param: &mut tch::Tensor,
    grad: &tch::Tensor,
    exp_avg: &mut tch::Tensor,
    exp_avg_sq: &mut tch::Tensor,
    s: &AdamStep,
) {
    // SAFETY: the tensors are live for the call and the caller holds the only references to
    // the three that are written.
    unsafe {
        let error = heist_fused_adam(
            pointer(param),
            pointer(grad),
            pointer(exp_avg),
            pointer(exp_avg_sq),
            s.step as f64,
            s.lr,
            s.betas[0],
            s.betas[1],
            s.weight_decay,
            s.epsilon,
        );
        check("_fused_adam_", error);
    }
}
