// Fused causal scaled-dot-product attention (Vaswani et al. 2017, eq. 1) with grouped-query
// attention (Ainslie et al. 2023): query head h reads kv head h / (heads / kv_heads).
//   S = scale * Q K^T,  P = softmax(S + causal mask),  O = P V.
// Forward saves O and the per-row log-sum-exp L = log sum_j exp(S_ij); backward recomputes
// P = exp(S - L) instead of storing it (as FlashAttention, Dao et al. 2022, Alg. 2):
//   dV = P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ = scale dS K,  dK = scale dS^T Q.
// Each (batch, head) pair is processed by one thread in blocks of kBlock query rows; block rows
// [i0, i0 + rows) only need keys [0, i0 + rows), so the GEMMs skip most of the masked upper triangle.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/fast_math.h"
#include "autograd/kernels/gemm.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

constexpr int64_t kBlock = 32;
// Multiply-adds of the full (unmasked) Q K^T below which one thread does the whole op: a pair
// of heads is microseconds of work, less than waking a team of threads.
constexpr int64_t kParallelMacs = int64_t{1} << 21;

struct Geometry {
  int64_t batch, heads, kv_heads, t, d;
  float scale;
  int64_t group() const { return heads / kv_heads; }
  int64_t q_offset(int64_t b, int64_t h) const { return (b * heads + h) * t * d; }
  int64_t kv_offset(int64_t b, int64_t h) const { return (b * kv_heads + h / group()) * t * d; }
  bool parallel() const { return batch * heads * t * t * d > kParallelMacs; }
};

// S = scale * Q[i0 : i0+rows] K[0 : i0+rows]^T into s (row stride t).
void block_scores(const Geometry& g, const float* q, const float* k, int64_t i0, int64_t rows, float* s) {
  kernels::gemm(false, true, rows, i0 + rows, g.d, g.scale, q + i0 * g.d, g.d, k, g.d, 0.0f, s, g.t);
}

// Softmax of one block of score rows in place; zeroes the masked tail (j > i) of each row so the
// following GEMMs can run over the whole block width. Stores the row log-sum-exps.
void block_softmax(const Geometry& g, int64_t i0, int64_t rows, float* s, float* lse) {
  const int64_t cols = i0 + rows;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = s + r * g.t;
    const int64_t n = i0 + r + 1;
    float m = row[0];
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = std::max(m, row[j]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; ++j) {
      row[j] = kernels::fast_exp(row[j] - m);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) row[j] *= inv;
    std::fill(row + n, row + cols, 0.0f);
    lse[i0 + r] = m + std::log(sum);
  }
}

void forward_pair(const Geometry& g, const float* q, const float* k, const float* v, float* o, float* lse,
                  float* s) {
  for (int64_t i0 = 0; i0 < g.t; i0 += kBlock) {
    const int64_t rows = std::min(kBlock, g.t - i0);
    block_scores(g, q, k, i0, rows, s);
    block_softmax(g, i0, rows, s, lse);
    kernels::gemm(false, false, rows, g.d, i0 + rows, 1.0f, s, g.t, v, g.d, 0.0f, o + i0 * g.d, g.d);
  }
}

Tensor attention_forward(const Geometry& g, const Tensor& q, const Tensor& k, const Tensor& v, Tensor& lse) {
  Tensor out(q.shape());
#pragma omp parallel if (g.parallel())
  {
    std::vector<float> s(kBlock * g.t);
#pragma omp for schedule(dynamic, 1)  // pairs are independent; dynamic absorbs noisy cores
    for (int64_t pair = 0; pair < g.batch * g.heads; ++pair) {
      const int64_t b = pair / g.heads, h = pair % g.heads;
      forward_pair(g, q.data() + g.q_offset(b, h), k.data() + g.kv_offset(b, h), v.data() + g.kv_offset(b, h),
                   out.data() + g.q_offset(b, h), lse.data() + pair * g.t, s.data());
    }
  }
  return out;
}

struct PairTensors {
  const float *q, *k, *v, *o, *d_o, *lse;
  float *dq, *dk, *dv;  // dk and dv accumulate over the query heads of one kv head
};

// Backward of one query head, block by block: P from the saved log-sum-exp, then dV, dP, dS, dQ, dK.
void backward_pair(const Geometry& g, const PairTensors& p, float* s, float* ds, float* delta) {
  for (int64_t i = 0; i < g.t; ++i) {  // delta_i = rowsum(dO * O) = sum_j P_ij dP_ij
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t j = 0; j < g.d; ++j) acc += p.d_o[i * g.d + j] * p.o[i * g.d + j];
    delta[i] = acc;
  }
  for (int64_t i0 = 0; i0 < g.t; i0 += kBlock) {
    const int64_t rows = std::min(kBlock, g.t - i0), cols = i0 + rows;
    block_scores(g, p.q, p.k, i0, rows, s);
    kernels::gemm(false, true, rows, cols, g.d, 1.0f, p.d_o + i0 * g.d, g.d, p.v, g.d, 0.0f, ds, g.t);  // dP
    for (int64_t r = 0; r < rows; ++r) {
      float* pr = s + r * g.t;
      float* dr = ds + r * g.t;
      const int64_t n = i0 + r + 1;
      const float l = p.lse[i0 + r], dl = delta[i0 + r];
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        pr[j] = kernels::fast_exp(pr[j] - l);
        dr[j] = pr[j] * (dr[j] - dl) * g.scale;
      }
      std::fill(pr + n, pr + cols, 0.0f);
      std::fill(dr + n, dr + cols, 0.0f);
    }
    const float* d_o = p.d_o + i0 * g.d;
    kernels::gemm(true, false, cols, g.d, rows, 1.0f, s, g.t, d_o, g.d, 1.0f, p.dv, g.d);               // dV += P^T dO
    kernels::gemm(false, false, rows, g.d, cols, 1.0f, ds, g.t, p.k, g.d, 0.0f, p.dq + i0 * g.d, g.d);  // dQ
    kernels::gemm(true, false, cols, g.d, rows, 1.0f, ds, g.t, p.q + i0 * g.d, g.d, 1.0f, p.dk, g.d);   // dK +=
  }
}

struct Grads {
  Tensor dq, dk, dv;
};

// Parallel over (batch, kv head): the query heads sharing a kv head run in order on one thread,
// so their dK/dV contributions accumulate without races and in a fixed order.
Grads attention_backward(const Geometry& g, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                         const Tensor& lse, const Tensor& d_o) {
  Grads out{Tensor(q.shape()), Tensor::zeros(k.shape()), Tensor::zeros(v.shape())};
#pragma omp parallel if (g.parallel())
  {
    std::vector<float> s(kBlock * g.t), ds(kBlock * g.t), delta(g.t);
#pragma omp for schedule(dynamic, 1)
    for (int64_t kv_pair = 0; kv_pair < g.batch * g.kv_heads; ++kv_pair) {
      const int64_t b = kv_pair / g.kv_heads, kvh = kv_pair % g.kv_heads;
      for (int64_t h = kvh * g.group(); h < (kvh + 1) * g.group(); ++h) {
        const int64_t qo = g.q_offset(b, h), ko = g.kv_offset(b, h);
        const PairTensors p{q.data() + qo,      k.data() + ko,       v.data() + ko,
                            o.data() + qo,      d_o.data() + qo,     lse.data() + (b * g.heads + h) * g.t,
                            out.dq.data() + qo, out.dk.data() + ko,  out.dv.data() + ko};
        backward_pair(g, p, s.data(), ds.data(), delta.data());
      }
    }
  }
  return out;
}

Geometry check_shapes(const Shape& q, const Shape& k, const Shape& v, float scale) {
  const std::string shapes = "q " + q.to_string() + ", k " + k.to_string() + ", v " + v.to_string();
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) {
    throw std::invalid_argument("causal_attention: q, k and v must be 4-D [batch, heads, seq, head_dim], got " +
                                shapes);
  }
  if (k != v) throw std::invalid_argument("causal_attention: k and v shapes differ: " + shapes);
  if (q[0] != k[0] || q[2] != k[2] || q[3] != k[3]) {
    throw std::invalid_argument("causal_attention: q and k/v differ in batch, seq or head_dim: " + shapes);
  }
  if (k[1] == 0 || q[1] % k[1] != 0) {
    throw std::invalid_argument("causal_attention: heads " + std::to_string(q[1]) + " not a multiple of kv_heads " +
                                std::to_string(k[1]) + " (" + shapes + ")");
  }
  const float s = scale > 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(q[3]));
  return Geometry{q[0], q[1], k[1], q[2], q[3], s};
}

}  // namespace

Variable causal_attention(const Variable& q, const Variable& k, const Variable& v, float scale) {
  const Geometry g = check_shapes(q.shape(), k.shape(), v.shape(), scale);
  Tensor lse(Shape{g.batch, g.heads, g.t});
  Tensor out = attention_forward(g, q.data(), k.data(), v.data(), lse);
  auto backward = [g, out, lse](std::vector<Variable>& in, const Tensor& d_o) {
    Grads grads = attention_backward(g, in[0].data(), in[1].data(), in[2].data(), out, lse, d_o);
    if (in[0].requires_grad()) in[0].add_grad(grads.dq);
    if (in[1].requires_grad()) in[1].add_grad(grads.dk);
    if (in[2].requires_grad()) in[2].add_grad(grads.dv);
  };
  return Variable(out, {q, k, v}, backward, "causal_attention");
}

}  // namespace qforge::autograd
