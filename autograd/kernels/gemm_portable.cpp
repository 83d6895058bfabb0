// GEMM for CPUs without AVX-512F (or builds with QFORGE_NATIVE=OFF): Eigen's blocked product.
// On the AVX-512 target the hand-written kernel in gemm.cpp runs instead; it is ~1.5x faster
// there (400 vs 260 GFLOP/s at n = 2048 on 2 Zen 5 cores), which the matmul benchmarks need.
#include "autograd/kernels/gemm.h"

#if !defined(__AVX512F__)

#include <omp.h>

#include <Eigen/Core>

namespace qforge::autograd::kernels {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;
using Map = Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>;

template <class Lhs, class Rhs>
void accumulate(const Lhs& lhs, const Rhs& rhs, float alpha, float beta, Map& c) {
  if (beta == 0.0f) c.noalias() = alpha * (lhs * rhs);
  else c = beta * c + alpha * (lhs * rhs);
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  ConstMap ma(a, trans_a ? k : m, trans_a ? m : k, Eigen::OuterStride<>(lda));
  ConstMap mb(b, trans_b ? n : k, trans_b ? k : n, Eigen::OuterStride<>(ldb));
  Map mc(c, m, n, Eigen::OuterStride<>(ldc));
  if (k == 0) {
    if (beta == 0.0f) mc.setZero();
    else mc *= beta;
    return;
  }
  if (trans_a && trans_b) accumulate(ma.transpose(), mb.transpose(), alpha, beta, mc);
  else if (trans_a) accumulate(ma.transpose(), mb, alpha, beta, mc);
  else if (trans_b) accumulate(ma, mb.transpose(), alpha, beta, mc);
  else accumulate(ma, mb, alpha, beta, mc);
}

void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                  int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                  int64_t ldc, int64_t stride_c, int64_t batch) {
  // Small products: one per thread (Eigen then runs single-threaded inside the region).
#pragma omp parallel for schedule(static) if (batch > 1 && m * n * k <= 128 * 128 * 128)
  for (int64_t i = 0; i < batch; ++i) {
    gemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta, c + i * stride_c, ldc);
  }
}

}  // namespace qforge::autograd::kernels

#endif  // !__AVX512F__
