#pragma once
// Stochastic gradient descent as torch.optim.SGD (PyTorch 1.13), per element:
//   d = g + weight_decay * p
//   b = d on the first update, else momentum * b + (1 - dampening) * d      (when momentum != 0)
//   d = d + momentum * b (Nesterov) or d = b
//   p = p - lr * d
// Nesterov momentum in the form of Sutskever et al. 2013 (eq. 3-4), as PyTorch implements it.
#include <vector>

#include "optim/optimizer.h"
#include "optim/options.h"

namespace qforge::optim {

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<ParamGroup> groups, SgdOptions options = SgdOptions());
  Sgd(const std::vector<autograd::Variable>& params, SgdOptions options = SgdOptions());

  const SgdOptions& options() const { return options_; }

 private:
  void update(const ParamGroup& group, ParamState& state, float* param, const float* grad, int64_t n) override;

  SgdOptions options_;
};

}  // namespace qforge::optim
