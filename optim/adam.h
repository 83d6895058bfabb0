#pragma once
// Adam (Kingma & Ba 2015, Algorithm 1) and AdamW (Loshchilov & Hutter 2019, Algorithm 2) as
// torch.optim.Adam / AdamW (PyTorch 1.13, amsgrad off). Per element, with t the parameter's own
// update count (a parameter skipped for lack of a gradient does not advance):
//   AdamW only:  p = p * (1 - lr * weight_decay)                       (decoupled decay)
//   Adam only:   g = g + weight_decay * p                              (L2 in the gradient)
//   m = beta1 * m + (1 - beta1) * g             v = beta2 * v + (1 - beta2) * g * g
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Buffers: "exp_avg" (m) and "exp_avg_sq" (v), torch's names.
#include <vector>

#include "optim/optimizer.h"
#include "optim/options.h"

namespace qforge::optim {

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options = AdamOptions());
  Adam(const std::vector<autograd::Variable>& params, AdamOptions options = AdamOptions());

  const AdamOptions& options() const { return options_; }

 private:
  void update(const ParamGroup& group, ParamState& state, float* param, const float* grad, int64_t n) override;

  AdamOptions options_;
};

class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = AdamWOptions());
  AdamW(const std::vector<autograd::Variable>& params, AdamWOptions options = AdamWOptions());

  const AdamWOptions& options() const { return options_; }

 private:
  void update(const ParamGroup& group, ParamState& state, float* param, const float* grad, int64_t n) override;

  AdamWOptions options_;
};

}  // namespace qforge::optim
