#include "layers/swiglu.h"

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

SwiGLU::SwiGLU(int64_t hidden_size, int64_t intermediate_size, uint64_t seed, const LinearFactory& factory,
               const std::string& path, bool bias) {
  const auto projection = [&](const char* name, int64_t in, int64_t out, uint64_t stream) {
    return register_module(name, make_linear(factory, join_module_path(path, name), in, out, derive_seed(seed, stream), bias));
  };
  gate_proj_ = projection("gate_proj", hidden_size, intermediate_size, 0);
  up_proj_ = projection("up_proj", hidden_size, intermediate_size, 1);
  down_proj_ = projection("down_proj", intermediate_size, hidden_size, 2);
}

Variable SwiGLU::forward(const Variable& x) {
  return down_proj_->forward(autograd::mul(autograd::silu(gate_proj_->forward(x)), up_proj_->forward(x)));
}

}  // namespace qforge::layers
