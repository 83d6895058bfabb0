#include "layers/swiglu.h"

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

SwiGLU::SwiGLU(int64_t hidden_size, int64_t intermediate_size, uint64_t seed) {
  gate_proj_ = register_module("gate_proj",
                               std::make_shared<Linear>(hidden_size, intermediate_size, false, derive_seed(seed, 0)));
  up_proj_ = register_module("up_proj",
                             std::make_shared<Linear>(hidden_size, intermediate_size, false, derive_seed(seed, 1)));
  down_proj_ = register_module("down_proj",
                               std::make_shared<Linear>(intermediate_size, hidden_size, false, derive_seed(seed, 2)));
}

Variable SwiGLU::forward(const Variable& x) {
  return down_proj_->forward(autograd::mul(autograd::silu(gate_proj_->forward(x)), up_proj_->forward(x)));
}

}  // namespace qforge::layers
