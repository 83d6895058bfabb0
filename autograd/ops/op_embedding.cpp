// embedding: out[ids..., :] = weight[id, :]. The backward scatter-adds gradient rows into
// dweight; to stay parallel without atomics and deterministic, positions are bucketed by id with
// a stable counting sort and each vocabulary row sums its own bucket in position order.
#include <cstring>
#include <stdexcept>
#include <string>

#include "autograd/kernels/elementwise.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

void check_embedding(const Shape& weight, const IndexTensor& ids) {
  if (weight.ndim() != 2) {
    throw std::invalid_argument("embedding: weight must be [vocab, dim], got shape " + weight.to_string());
  }
  if (ids.shape().ndim() > 3) {
    throw std::invalid_argument("embedding: ids of shape " + ids.shape().to_string() + " have more than 3 dimensions");
  }
  const int64_t* v = ids.data();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    if (v[i] < 0 || v[i] >= weight[0]) {
      throw std::invalid_argument("embedding: id " + std::to_string(v[i]) + " out of range for vocabulary " +
                                  std::to_string(weight[0]));
    }
  }
}

Tensor embedding_backward(const Tensor& g, const IndexTensor& ids, const Shape& weight_shape) {
  const int64_t vocab = weight_shape[0], dim = weight_shape[1], n = ids.numel();
  const int64_t* v = ids.data();
  // Stable counting sort: bucket[start[id] .. start[id + 1]) lists the positions holding id.
  std::vector<int64_t> start(vocab + 1, 0), bucket(n);
  for (int64_t i = 0; i < n; ++i) ++start[v[i] + 1];
  for (int64_t r = 0; r < vocab; ++r) start[r + 1] += start[r];
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t i = 0; i < n; ++i) bucket[fill[v[i]]++] = i;

  Tensor dw(weight_shape);
  float* pd = dw.data();
  const float* pg = g.data();
#pragma omp parallel for schedule(dynamic, 16) if ((vocab + n) * dim > kernels::kParallelThreshold)
  for (int64_t r = 0; r < vocab; ++r) {
    float* row = pd + r * dim;
    if (start[r] == start[r + 1]) {
      std::memset(row, 0, static_cast<size_t>(dim) * sizeof(float));
      continue;
    }
    std::memcpy(row, pg + bucket[start[r]] * dim, static_cast<size_t>(dim) * sizeof(float));
    for (int64_t b = start[r] + 1; b < start[r + 1]; ++b) {
      const float* src = pg + bucket[b] * dim;
#pragma omp simd
      for (int64_t c = 0; c < dim; ++c) row[c] += src[c];
    }
  }
  return dw;
}

}  // namespace

Variable embedding(const Variable& weight, const IndexTensor& ids) {
  check_embedding(weight.shape(), ids);
  const int64_t dim = weight.shape()[1], n = ids.numel();
  std::vector<int64_t> dims = ids.shape().to_vector();
  dims.push_back(dim);
  Tensor out{Shape(dims)};
  const float* pw = weight.data().data();
  const int64_t* v = ids.data();
  float* po = out.data();
#pragma omp parallel for schedule(static) if (n * dim > kernels::kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(po + i * dim, pw + v[i] * dim, static_cast<size_t>(dim) * sizeof(float));
  }
  auto backward = [ids](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(embedding_backward(g, ids, in[0].shape()));
  };
  return Variable(out, {weight}, backward, "embedding");
}

}  // namespace qforge::autograd
