// gather with torch.gather semantics along `axis`:
//   out[i_0, .., i_axis, .., i_n] = x[i_0, .., index[i_0, .., i_n], .., i_n],
// index has x's rank and may be smaller than x in every dimension but `axis`. The backward
// scatter-adds: dx[.., index[..], ..] += g[..]. Elements that differ outside `axis` never touch
// the same dx element, so both directions run in parallel over those "lines" and each line adds
// in index order: deterministic for any thread count.
#include <array>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

// Index and x geometry padded to 4 axes; `axis` is the padded gather axis.
struct GatherPlan {
  std::array<int64_t, 4> dims{}, x_stride{}, out_stride{};
  int axis = 0;
  int64_t lines = 1;  // index elements / dims[axis]
};

GatherPlan plan_gather(const Shape& x_shape, const Shape& index_shape, int a) {
  GatherPlan p;
  const int lead = 4 - x_shape.ndim();
  const Shape xs = x_shape.padded_to(4), is = index_shape.padded_to(4);
  p.axis = a + lead;
  int64_t xstep = 1, ostep = 1;
  for (int d = 3; d >= 0; --d) {
    p.dims[d] = is[d];
    p.x_stride[d] = xstep;
    p.out_stride[d] = ostep;
    xstep *= xs[d];
    ostep *= is[d];
    if (d != p.axis) p.lines *= is[d];
  }
  return p;
}

void check_gather(const Shape& x, int a, const IndexTensor& index) {
  const Shape& is = index.shape();
  if (is.ndim() != x.ndim()) {
    throw std::invalid_argument("gather: index of shape " + is.to_string() + " must have the rank of x " + x.to_string());
  }
  for (int d = 0; d < x.ndim(); ++d) {
    if (d != a && is[d] > x[d]) {
      throw std::invalid_argument("gather: index shape " + is.to_string() + " exceeds x shape " + x.to_string() +
                                  " at dimension " + std::to_string(d));
    }
  }
  const int64_t* v = index.data();
  for (int64_t i = 0; i < index.numel(); ++i) {
    if (v[i] < 0 || v[i] >= x[a]) {
      throw std::invalid_argument("gather: index " + std::to_string(v[i]) + " out of range for axis " +
                                  std::to_string(a) + " of size " + std::to_string(x[a]) + " (x shape " +
                                  x.to_string() + ")");
    }
  }
}

// Calls f(x_offset, out_offset, out_step, count) for every line, in parallel.
template <class F>
void for_each_line(const GatherPlan& p, F f) {
  std::array<int, 3> rest{};
  for (int d = 0, k = 0; d < 4; ++d)
    if (d != p.axis) rest[k++] = d;
  const int64_t n1 = p.dims[rest[1]], n2 = p.dims[rest[2]];
#pragma omp parallel for schedule(static) if (p.lines * p.dims[p.axis] > kernels::kParallelThreshold)
  for (int64_t line = 0; line < p.lines; ++line) {
    const int64_t c2 = line % n2, c1 = (line / n2) % n1, c0 = line / (n2 * n1);
    const int64_t xo = c0 * p.x_stride[rest[0]] + c1 * p.x_stride[rest[1]] + c2 * p.x_stride[rest[2]];
    const int64_t oo = c0 * p.out_stride[rest[0]] + c1 * p.out_stride[rest[1]] + c2 * p.out_stride[rest[2]];
    f(xo, oo, p.out_stride[p.axis], p.dims[p.axis]);
  }
}

}  // namespace

Variable gather(const Variable& x, int axis, const IndexTensor& index) {
  const int a = x.shape().normalize_axis(axis, "gather");
  check_gather(x.shape(), a, index);
  const GatherPlan p = plan_gather(x.shape(), index.shape(), a);
  Tensor out(index.shape());
  const float* px = x.data().data();
  const int64_t* pi = index.data();
  float* po = out.data();
  const int64_t x_step = p.x_stride[p.axis];
  for_each_line(p, [&](int64_t xo, int64_t oo, int64_t step, int64_t count) {
    for (int64_t j = 0; j < count; ++j) po[oo + j * step] = px[xo + pi[oo + j * step] * x_step];
  });
  auto backward = [p, index](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = Tensor::zeros(in[0].shape());
    float* pd = dx.data();
    const float* pg = g.data();
    const int64_t* ids = index.data();
    const int64_t x_step = p.x_stride[p.axis];
    for_each_line(p, [&](int64_t xo, int64_t oo, int64_t step, int64_t count) {
      for (int64_t j = 0; j < count; ++j) pd[xo + ids[oo + j * step] * x_step] += pg[oo + j * step];
    });
    in[0].add_grad(dx);
  };
  return Variable(out, {x}, backward, "gather");
}

}  // namespace qforge::autograd
