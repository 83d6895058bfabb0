// sum and mean over all elements or over axes (keepdim optional); backward broadcasts the
// gradient back over the reduced axes.
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

std::vector<bool> axis_flags(const Shape& shape, const std::vector<int>& axes, const char* op) {
  std::vector<bool> flags(shape.ndim(), false);
  for (int axis : axes) {
    const int a = shape.normalize_axis(axis, op);
    if (flags[a]) throw std::invalid_argument(std::string(op) + ": axis " + std::to_string(axis) + " repeated");
    flags[a] = true;
  }
  return flags;
}

std::vector<int64_t> reduced_dims(const Shape& shape, const std::vector<bool>& flags, bool keepdim) {
  std::vector<int64_t> dims;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (!flags[i]) dims.push_back(shape[i]);
    else if (keepdim) dims.push_back(1);
  }
  return dims;
}

Variable reduce_sum(const Variable& x, const std::vector<bool>& flags, bool keepdim, float factor,
                    const char* name) {
  Tensor kept = kernels::sum_axes(x.data(), flags);
  if (factor != 1.0f) kept = kernels::scale(kept, factor);
  const Shape keep_shape = kept.shape();
  Tensor out = kept.reshaped(reduced_dims(x.shape(), flags, keepdim));
  auto backward = [keep_shape, factor](std::vector<Variable>& in, const Tensor& g) {
    Tensor spread = kernels::broadcast_to(g.reshaped(keep_shape.to_vector()), in[0].shape());
    in[0].add_grad(factor == 1.0f ? spread : kernels::scale(spread, factor));
  };
  return Variable(out, {x}, backward, name);
}

}  // namespace

Variable sum(const Variable& x) { return reduce_sum(x, std::vector<bool>(x.ndim(), true), false, 1.0f, "sum"); }

Variable sum(const Variable& x, const std::vector<int>& axes, bool keepdim) {
  return reduce_sum(x, axis_flags(x.shape(), axes, "sum"), keepdim, 1.0f, "sum");
}

Variable mean(const Variable& x) {
  if (x.numel() == 0) throw std::invalid_argument("mean: empty tensor of shape " + x.shape().to_string());
  return reduce_sum(x, std::vector<bool>(x.ndim(), true), false, 1.0f / static_cast<float>(x.numel()), "mean");
}

Variable mean(const Variable& x, const std::vector<int>& axes, bool keepdim) {
  const std::vector<bool> flags = axis_flags(x.shape(), axes, "mean");
  int64_t count = 1;
  for (int i = 0; i < x.ndim(); ++i)
    if (flags[i]) count *= x.shape()[i];
  if (count == 0) throw std::invalid_argument("mean: reducing empty axes of shape " + x.shape().to_string());
  return reduce_sum(x, flags, keepdim, 1.0f / static_cast<float>(count), "mean");
}

}  // namespace qforge::autograd
