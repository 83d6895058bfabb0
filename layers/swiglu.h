#pragma once
// Gated feed-forward block of Llama (Shazeer 2020, "GLU Variants Improve Transformer", eq. 6 with
// Swish_1 = SiLU), named as Hugging Face's LlamaMLP.
#include <cstdint>
#include <memory>
#include <string>

#include "layers/linear.h"

namespace qforge::layers {

/// down_proj(silu(gate_proj(x)) * up_proj(x)); children "gate_proj" [inter, hidden],
/// "up_proj" [inter, hidden], "down_proj" [hidden, inter], all with a bias when `bias` (HF mlp_bias).
class SwiGLU : public UnaryModule {
 public:
  /// Projection k is seeded with derive_seed(seed, k) in the order gate, up, down. With `factory`,
  /// "gate_proj" is factory(path + ".gate_proj", ...) (layers/linear.h).
  SwiGLU(int64_t hidden_size, int64_t intermediate_size, uint64_t seed = 0, const LinearFactory& factory = {},
         const std::string& path = "", bool bias = false);
  /// x [..., hidden] -> [..., hidden].
  Variable forward(const Variable& x) override;
  /// The gate projection (through SiLU).
  const std::shared_ptr<Linear>& gate_proj() const { return gate_proj_; }
  /// The linear (ungated) projection.
  const std::shared_ptr<Linear>& up_proj() const { return up_proj_; }
  /// The output projection.
  const std::shared_ptr<Linear>& down_proj() const { return down_proj_; }

 private:
  std::shared_ptr<Linear> gate_proj_, up_proj_, down_proj_;
};

}  // namespace qforge::layers
