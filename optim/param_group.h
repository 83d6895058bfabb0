#pragma once
// A parameter group: parameters that share a learning rate and a weight decay (torch.optim's
// param_groups). The other hyperparameters (momentum, betas, eps) are shared by all groups.
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace qforge::optim {

// Marks a group field that takes the optimiser options' value.
inline constexpr double kFromOptions = std::numeric_limits<double>::quiet_NaN();

struct ParamGroup {
  ParamGroup() = default;
  explicit ParamGroup(std::vector<autograd::Variable> params, double lr = kFromOptions,
                      double weight_decay = kFromOptions)
      : params(std::move(params)), lr(lr), weight_decay(weight_decay) {}

  std::vector<autograd::Variable> params;
  double lr = kFromOptions;            // current learning rate (schedules rewrite it)
  double weight_decay = kFromOptions;  // L2 (SGD, Adam) or decoupled (AdamW) decay
};

}  // namespace qforge::optim
