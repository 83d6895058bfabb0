#include "layers/rms_norm.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"

namespace qforge::layers {

RMSNorm::RMSNorm(int64_t dim, float eps) : eps_(eps) {
  if (dim <= 0) throw std::invalid_argument("RMSNorm: dim must be positive, got " + std::to_string(dim));
  if (!(eps >= 0.0f)) throw std::invalid_argument("RMSNorm: eps must be >= 0, got " + std::to_string(eps));
  weight_ = register_parameter("weight", Tensor::full(Shape{dim}, 1.0f));
}

Variable RMSNorm::forward(const Variable& x) {
  if (x.ndim() < 1 || x.dim(-1) != weight_.dim(0)) {
    throw std::invalid_argument("RMSNorm: input last dim must be " + std::to_string(weight_.dim(0)) + ", got input " +
                                x.shape().to_string());
  }
  return autograd::rms_norm(x, weight_, eps_);
}

}  // namespace qforge::layers
