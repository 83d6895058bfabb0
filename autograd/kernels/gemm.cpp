// Single-precision GEMM in the BLIS/GotoBLAS style: the k dimension is cut into kc-deep slices,
// op(A) and op(B) are re-laid out ("packed") into micro-panels that the AVX-512 micro-kernel
// streams with unit stride, and the loops are ordered so each packed operand lives in the cache
// level that matches its reuse:
//   * packed B block (kc x nc, vector operand) stays in the core's private L2 (1 MiB on Zen 5),
//   * one packed A micro-panel (12 x kc, broadcast operand) stays in L1d (48 KiB),
//   * the packed A panel (mc x kc) is streamed from L2/L3 once per B block.
// Packing absorbs transposes and leading dimensions, so all four trans combinations run the
// same kernel on the same layout. With several threads each one computes its own band of C
// and packs privately (see thread_share).
#include "autograd/kernels/gemm.h"

// The AVX-512 kernel; gemm_portable.cpp stands in on CPUs without AVX-512F.
#if defined(__AVX512F__)

#include <omp.h>

#include <algorithm>
#include <cstdlib>

#include "autograd/kernels/gemm_microkernel.h"
#include "autograd/kernels/gemm_pack.h"

namespace qforge::autograd::kernels {
namespace {

using detail::kMR;
using detail::kNR;
using detail::Operands;

// kc: 12 x 384 x 4 B = 18 KiB of A in L1 next to the streamed B rows.
// nc: 384 x 512 x 4 B = 768 KiB of packed B, three quarters of the private L2.
// mc: one thread's A panel, 3072 x 384 x 4 B = 4.5 MiB, inside the shared L3 even twice.
// (Measured on the target: 256..768 for kc and 256..1024 for nc are all within noise at
// n = 2048; the kernel is compute bound once the panels fit.)
constexpr int64_t kKC = 384;
constexpr int64_t kNC = 512;
constexpr int64_t kMC = 3072;
// Below this many multiply-adds packing and the tile padding cost more than they save.
constexpr int64_t kTinyMacs = 16 * 16 * 16;
// Each extra thread needs roughly this much work to pay for the fork/join (measured: a 64^3
// product is faster on one thread, a 96^3 one on two).
constexpr int64_t kMacsPerThread = 64 * 64 * 80;
// gemm_batched runs whole products one-per-thread when they are at most this large (a single
// thread then reaches ~190 GFLOP/s while splitting one small product costs fork/join and edge
// tiles), or when the batch divides evenly among the threads.
constexpr int64_t kBatchParallelMacs = 128 * 128 * 128;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Grow-only, 64-byte aligned scratch; one per thread so packing never mallocs in steady state.
class ScratchBuffer {
 public:
  ~ScratchBuffer() { std::free(data_); }
  float* get(int64_t floats) {
    if (floats > capacity_) {
      std::free(data_);
      capacity_ = round_up(floats, 16);
      data_ = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(capacity_) * sizeof(float)));
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};
thread_local ScratchBuffer tl_pack_a;
thread_local ScratchBuffer tl_pack_b;

void scale_c(const Operands& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    float* row = g.c + i * g.ldc;
    if (g.beta == 0.0f) std::fill(row, row + g.n, 0.0f);
    else for (int64_t j = 0; j < g.n; ++j) row[j] *= g.beta;
  }
}

// Straightforward triple loop for products too small to amortise packing.
void gemm_tiny(const Operands& g) {
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      float acc = 0.0f;
      for (int64_t p = 0; p < g.k; ++p) {
        const float av = g.ta ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        const float bv = g.tb ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        acc += av * bv;
      }
      float& out = g.c[i * g.ldc + j];
      out = g.beta == 0.0f ? g.alpha * acc : g.alpha * acc + g.beta * out;
    }
  }
}

// Fraction of useful work when `units` equal pieces are dealt round-robin to `nth` threads.
double balance(int64_t units, int nth) {
  return static_cast<double>(units) / static_cast<double>(nth * ceil_div(units, nth));
}

// Sequential blocked product for one thread. Loop order (outer to inner): m panels of the
// packed A (mc rows), k slices (kc), n blocks of the packed B (nc), then 12-row A micro-panels
// and 32-column B micro-panels. A micro-panel (kc x 12) is reused from L1 across the whole B
// block; the B block is reused from L2 across the whole A panel.
void run_serial(const Operands& g) {
  const int64_t kc_nom = ceil_div(g.k, ceil_div(g.k, kKC));  // balanced slices, no thin tail
  const int64_t mc_nom = round_up(ceil_div(g.m, ceil_div(g.m, kMC)), kMR);
  const int64_t nc_nom = std::min(round_up(g.n, kNR), kNC);
  float* apack = tl_pack_a.get(mc_nom * kc_nom);
  float* bpack = tl_pack_b.get(nc_nom * kc_nom);
  for (int64_t i0 = 0; i0 < g.m; i0 += mc_nom) {
    const int64_t mc = std::min(mc_nom, g.m - i0);
    for (int64_t p0 = 0; p0 < g.k; p0 += kc_nom) {
      const int64_t kc = std::min(kc_nom, g.k - p0);
      detail::pack_a(g, i0, mc, p0, kc, apack);
      const float beta = p0 == 0 ? g.beta : 1.0f;  // later slices accumulate into C
      for (int64_t j0 = 0; j0 < g.n; j0 += nc_nom) {
        const int64_t nc = std::min(nc_nom, g.n - j0);
        detail::pack_b(g, p0, kc, j0, nc, bpack);
        for (int64_t i = 0; i < mc; i += kMR) {
          const float* pa = apack + i * kc;
          float* crow = g.c + (i0 + i) * g.ldc + j0;
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - i));
          for (int64_t j = 0; j < nc; j += kNR) {
            const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - j));
            detail::micro_kernel(kc, pa, bpack + j * kc, crow + j, g.ldc, g.alpha, beta, mr, nr);
          }
        }
      }
    }
  }
}

// The sub-product for thread `tid` of `nth`: a band of C columns (split_n) or rows, cut on
// micro-tile boundaries. Threads share nothing but the read-only inputs: each packs the
// operand panels it needs itself. Re-packing the shared operand costs ~1/n of the arithmetic,
// far less than making one core wait for the other at a barrier every k slice.
Operands thread_share(Operands g, int tid, int nth, bool split_n) {
  const int64_t extent = split_n ? g.n : g.m, unit = split_n ? kNR : kMR;
  const int64_t units = ceil_div(extent, unit);
  const int64_t lo = std::min(extent, units * tid / nth * unit);
  const int64_t hi = std::min(extent, units * (tid + 1) / nth * unit);
  if (split_n) {
    g.b += g.tb ? lo * g.ldb : lo;
    g.c += lo;
    g.n = hi - lo;
  } else {
    g.a += g.ta ? lo : lo * g.lda;
    g.c += lo * g.ldc;
    g.m = hi - lo;
  }
  return g;
}

void gemm_impl(const Operands& g, int max_threads) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.0f) return scale_c(g);
  const int64_t macs = g.m * g.n * g.k;
  if (macs <= kTinyMacs) return gemm_tiny(g);
  const int nth = static_cast<int>(std::clamp<int64_t>(macs / kMacsPerThread, 1, max_threads));
  if (nth == 1) return run_serial(g);
  const bool split_n = balance(ceil_div(g.n, kNR), nth) >= balance(ceil_div(g.m, kMR), nth);
#pragma omp parallel num_threads(nth)
  {
    const Operands part = thread_share(g, omp_get_thread_num(), omp_get_num_threads(), split_n);
    if (part.m > 0 && part.n > 0) run_serial(part);
  }
}

int threads_available() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_impl({trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc}, threads_available());
}

void gemm_batched(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b,
                  float beta, float* c, int64_t ldc, int64_t stride_c, int64_t batch) {
  auto one = [&](int64_t i, int threads) {
    gemm_impl({trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
               c + i * stride_c, ldc},
              threads);
  };
  const int threads = threads_available();
  if (batch > 1 && threads > 1 && (m * n * k <= kBatchParallelMacs || batch % threads == 0)) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast<int>(std::min<int64_t>(threads, batch)))
    for (int64_t i = 0; i < batch; ++i) one(i, 1);
    return;
  }
  for (int64_t i = 0; i < batch; ++i) one(i, threads);
}

}  // namespace qforge::autograd::kernels

#endif  // __AVX512F__
