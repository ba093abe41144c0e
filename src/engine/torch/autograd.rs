//! The binding of `autograd.cpp`: libtorch's autograd seeded with an output gradient.

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
    fn heist_free_message(message: *mut c_char);
}

/// The gradients of `output`, whose gradient is `output_grad`, with respect to each of
/// `inputs` (leaves of its graph that require gradients); the graph is freed.
pub fn grad(
    output: &tch::Tensor,
    output_grad: &tch::Tensor,
    inputs: &[&tch::Tensor],
) -> Vec<tch::Tensor> {
    let pointer = |t: &tch::Tensor| t.as_ptr() as *mut C_tensor;
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
        if !error.is_null() {
            let message = CStr::from_ptr(error).to_string_lossy().into_owned();
            heist_free_message(error);
            panic!("libtorch's autograd failed: {message}");
        }
        results
            .into_iter()
            .map(|r| tch::Tensor::from_ptr(r))
            .collect()
    }
}
