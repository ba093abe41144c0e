// The one libtorch call heist needs that tch does not bind: autograd's gradients of some outputs,
// seeded with given output gradients, with respect to some inputs (torch.autograd.grad with
// grad_outputs). tch's own `run_backward` seeds with ones, which would cost a product and a
// reduction over every output to fold the gradient in.
#include <torch/csrc/autograd/autograd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

extern "C" {

// Writes the gradients into `results` (new tensors the caller owns) and returns NULL, or
// returns libtorch's error message (which the caller frees).
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

void heist_free_message(char *message) { std::free(message); }
}
