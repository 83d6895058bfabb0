// reshape: the same elements under new dimensions (one may be -1). Tensors are contiguous and
// never written after creation, so forward and backward are views sharing storage, no copies.
#include "autograd/ops.h"

namespace qforge::autograd {

Variable reshape(const Variable& x, const std::vector<int64_t>& dims) {
  Tensor out = x.data().reshaped(dims);  // throws "reshape: cannot view N elements as [...]"
  auto backward = [](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(g.reshaped(in[0].shape().to_vector()));
  };
  return Variable(out, {x}, backward, "reshape");
}

}  // namespace qforge::autograd
