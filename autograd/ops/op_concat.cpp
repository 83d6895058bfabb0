// concat along one axis: every other dimension must match. Seen as [outer, axis, inner], output
// block o is the inputs' blocks o laid end to end; backward cuts the gradient's blocks apart.
#include <cstring>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

// Validates the inputs against the first and returns the output shape.
Shape concat_shape(const std::vector<Variable>& xs, int a) {
  const Shape& first = xs[0].shape();
  std::vector<int64_t> dims = first.to_vector();
  dims[a] = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Shape& s = xs[k].shape();
    bool match = s.ndim() == first.ndim();
    for (int i = 0; match && i < s.ndim(); ++i) match = i == a || s[i] == first[i];
    if (!match) {
      throw std::invalid_argument("concat: input " + std::to_string(k) + " has shape " + s.to_string() +
                                  ", which does not match input 0's shape " + first.to_string() +
                                  " outside axis " + std::to_string(a));
    }
    dims[a] += s[a];
  }
  return Shape(dims);
}

}  // namespace

Variable concat(const std::vector<Variable>& xs, int axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no inputs");
  const int a = xs[0].shape().normalize_axis(axis, "concat");
  const Shape shape = concat_shape(xs, a);
  const kernels::AxisSplit split = kernels::split_around(shape, a, a);
  const int64_t out_run = split.reduced * split.inner;
  std::vector<int64_t> runs, offsets;  // per input: floats per outer block, start inside the block
  for (const Variable& x : xs) {
    offsets.push_back(runs.empty() ? 0 : offsets.back() + runs.back());
    runs.push_back(x.shape()[a] * split.inner);
  }
  std::vector<const float*> sources;
  for (const Variable& x : xs) sources.push_back(x.data().data());
  Tensor out(shape);
  const int64_t outer = split.outer, count = static_cast<int64_t>(xs.size());
  float* po = out.data();
#pragma omp parallel for collapse(2) schedule(static) if (shape.numel() > kernels::kParallelThreshold)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < count; ++k) {
      std::memcpy(po + o * out_run + offsets[k], sources[k] + o * runs[k],
                  static_cast<size_t>(runs[k]) * sizeof(float));
    }
  }
  auto backward = [outer, out_run, runs, offsets](std::vector<Variable>& in, const Tensor& g) {
    for (size_t k = 0; k < in.size(); ++k) {
      if (!in[k].requires_grad()) continue;
      Tensor dx(in[k].shape());
      const int64_t run = runs[k];
#pragma omp parallel for schedule(static) if (dx.numel() > kernels::kParallelThreshold)
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(dx.data() + o * run, g.data() + o * out_run + offsets[k], static_cast<size_t>(run) * sizeof(float));
      }
      in[k].add_grad(dx);
    }
  };
  return Variable(out, xs, backward, "concat");
}

}  // namespace qforge::autograd
