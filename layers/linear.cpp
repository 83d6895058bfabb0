#include "layers/linear.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias, uint64_t seed)
    : in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw std::invalid_argument("Linear: in_features and out_features must be positive, got " +
                                std::to_string(in_features) + " and " + std::to_string(out_features));
  }
  weight_ = register_parameter("weight", linear_uniform(Shape{out_features, in_features}, in_features,
                                                        derive_seed(seed, 0)));
  if (bias) bias_ = register_parameter("bias", linear_uniform(Shape{out_features}, in_features, derive_seed(seed, 1)));
}

Variable Linear::forward(const Variable& x) {
  if (x.ndim() < 1 || x.dim(-1) != in_features_) {
    throw std::invalid_argument("Linear: input last dim " + (x.ndim() < 1 ? std::string("(scalar)") : std::to_string(x.dim(-1))) +
                                " != in_features " + std::to_string(in_features_) + " (input " +
                                x.shape().to_string() + ")");
  }
  // matmul with transpose_b reads W [out, in] as W^T without a copy; a 2-D W folds all leading
  // dims of x into one GEMM.
  Variable y = autograd::matmul(effective_input(x), effective_weight(), false, true);
  return bias_.defined() ? autograd::add(y, bias_) : y;
}

}  // namespace qforge::layers
