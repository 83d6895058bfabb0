#pragma once
// Reductions over axes. Internal header for op files.
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace qforge::autograd::kernels {

// Sums over the axes flagged in `reduce_axis` (one flag per dimension of x); reduced axes keep
// size 1 in the result (keepdim). Accumulates in float with a fixed order per thread count.
Tensor sum_axes(const Tensor& x, const std::vector<bool>& reduce_axis);

// Reverses broadcasting in backward: sums `grad` down to `shape`, which must broadcast to
// grad's shape. Returns grad itself when the shapes already match.
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

// View of x (keepdim-shaped or reduced) expanded to `shape` by copying along broadcast axes.
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// Collapses a shape around a contiguous run of axes [first, last] into [outer, reduced, inner].
struct AxisSplit {
  int64_t outer = 1, reduced = 1, inner = 1;
};
AxisSplit split_around(const Shape& shape, int first, int last);

}  // namespace qforge::autograd::kernels
