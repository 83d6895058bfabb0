#pragma once
#include <cstdint>

namespace qforge::autograd::kernels {

// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, all row-major.
// op(X) = X^T when trans_x; lda/ldb/ldc are the row strides of the matrices as stored
// (A stored as [m,k] when !trans_a, as [k,m] when trans_a; likewise B).
// beta == 0 means C is overwritten without being read (NaNs in C do not propagate).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// `batch` independent products; matrix i starts at a + i*stride_a, b + i*stride_b, c + i*stride_c.
// stride 0 means the operand is shared across the batch. Parallelises across the batch when the
// single products are small (e.g. attention: batch 64 of 128x128x32), otherwise inside each product.
void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                  float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace qforge::autograd::kernels
