// The libtorch calls heist needs that tch does not bind:
// - autograd's gradients of some outputs, seeded with given output gradients, with respect to
//   some inputs (torch.autograd.grad with grad_outputs). tch's own `run_backward` seeds with
//   ones, which would cost a product and a reduction over every output to fold the gradient in;
// - leaky ReLU with a given slope (tch binds only the default 0.01);
// - PyTorch's fused Adam step (`torch.optim.Adam(fused=True)`), one pass over a parameter, its
//   gradient and its moments where the single-tensor Adam makes five (docs/engine.md).
// Each writes its results as new tensors the caller owns and returns NULL, or returns
// libtorch's error message, which the caller frees with heist_free_message.
#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/full.h>
#include <ATen/ops/leaky_relu.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

extern "C" {

char *heist_autograd_grad(at::Tensor **outputs, at::Tensor **output_grads, int n,
                          at::Tensor **inputs, int n_inputs, at::Tensor **results) {
  try {
    std::vector<at::Tensor> o, g, in;
    for (int i = 0; i < n; ++i) {
      o.push_back(*outputs[i]);
      g.push_back(*output_grads[i]);
    }
    for (int i = 0; i < n_inputs; ++i) in.push_back(*inputs[i]);
    auto grads = torch::autograd::grad(o, in, g, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);
    for (int i = 0; i < n_inputs; ++i) results[i] = new at::Tensor(grads[i]);
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

char *heist_leaky_relu(at::Tensor *x, double slope, at::Tensor **result) {
  try {
    *result = new at::Tensor(at::leaky_relu(*x, slope));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

// Updates `param`, `exp_avg` and `exp_avg_sq` in place; `step` counts this step (1 first).
char *heist_fused_adam(at::Tensor *param, at::Tensor *grad, at::Tensor *exp_avg,
                       at::Tensor *exp_avg_sq, double step, double lr, double beta1,
                       double beta2, double weight_decay, double eps) {
  try {
    at::Tensor steps = at::full({}, step, param->options());
    at::_fused_adam_({*param}, {*grad}, {*exp_avg}, {*exp_avg_sq}, {}, {steps}, lr, beta1, beta2,
                     weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

void heist_free_message(char *message) { std::free(message); }
}
