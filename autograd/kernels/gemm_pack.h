#pragma once
// Packing routines for qforge's sgemm (internal; used by gemm.cpp only).
#include <cstdint>

namespace qforge::autograd::kernels::detail {

// One gemm call's arguments, as given to the public entry point.
struct Operands {
  bool ta, tb;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
};

// Packs op(A)[i0:i0+mc, p0:p0+kc] into `out`: micro-panel mp (rows i0 + mp*kMR ...)
// starts at out + mp*kMR*kc and stores, for each k step, kMR consecutive row values (rows past
// mc are zero so the kernel can run full tiles).
void pack_a(const Operands& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* out);

// Packs op(B)[p0:p0+kc, j0:j0+nc] into `out`: micro-panel np starts at out + np*kNR*kc and
// stores, for each k step, kNR consecutive column values (columns past nc are zero).
void pack_b(const Operands& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* out);

}  // namespace qforge::autograd::kernels::detail
