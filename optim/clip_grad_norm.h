#pragma once
// Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2):
//   norm = sqrt(sum over parameters of sum(g^2));  scale = max_norm / (norm + 1e-6)
//   when scale < 1 every gradient is multiplied by scale (Pascanu et al. 2013, section 3.2).
// Only parameters that require grad and have a gradient take part (those an optimiser updates).
#include <vector>

#include "autograd/variable.h"

namespace qforge::optim {

// Clips in place and returns the norm before clipping. The sum of squares is accumulated in
// double over fixed-size chunks combined in a fixed order, so the result does not depend on the
// thread count. Throws std::invalid_argument when max_norm is negative or not finite.
double clip_grad_norm(const std::vector<autograd::Variable>& params, double max_norm);

// The global L2 norm of the gradients alone (no clipping), computed the same way.
double grad_norm(const std::vector<autograd::Variable>& params);

}  // namespace qforge::optim
