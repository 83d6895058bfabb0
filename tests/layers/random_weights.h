#pragma once
// Test weights with O(1) activations. Default inits are either identity-like (norms are ones,
// biases would be tiny) or, for Llama, HF's N(0, 0.02), under which logits are nearly uniform and
// most wiring bugs hide; tests overwrite them with:
//   "...norm..." weights 1 + N(0, 0.2), other 1-D parameters N(0, 0.3),
//   embed tables N(0, 0.3) (tied logits stay O(1)), matrices U(+-1/sqrt(in)).
#include <map>
#include <string>

#include "layers/init.h"
#include "layers/module.h"

namespace qforge::testing {

inline void randomise_parameters(layers::Module& module, uint64_t seed) {
  using autograd::Tensor;
  std::map<std::string, Tensor> state;
  uint64_t stream = 0;
  for (const auto& [name, p] : module.named_parameters()) {
    const uint64_t s = layers::derive_seed(seed, stream++);
    Tensor t;
    if (name.find("norm") != std::string::npos && p.ndim() == 1) {
      t = Tensor::randn(p.shape(), s, 0.2f);
      for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += 1.0f;
    } else if (p.ndim() == 1 || name.find("embed") != std::string::npos) {
      t = Tensor::randn(p.shape(), s, 0.3f);
    } else {
      t = layers::linear_uniform(p.shape(), p.dim(1), s);
    }
    state.emplace(name, t);
  }
  module.load_state_dict(state);
}

}  // namespace qforge::testing
