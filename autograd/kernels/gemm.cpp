// Single-precision GEMM in the BLIS/GotoBLAS style: the k dimension is cut into kc-deep slices,
// op(A) and op(B) are re-laid out ("packed") into micro-panels that the AVX-512 micro-kernel
// streams with unit stride, and the loops are ordered so each packed operand lives in the cache
// level that matches its reuse:
//   * packed B block (kc x nc, vector operand) stays in the core's private L2 (1 MiB on Zen 5),
//   * one packed A micro-panel (12 x kc, broadcast operand) stays in L1d (48 KiB),
//   * the packed A panel (mc x kc) is shared by both threads and lives in L3.
// Packing absorbs transposes and leading dimensions, so all four trans combinations run the
// same kernel on the same layout.
#include "autograd/kernels/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "autograd/kernels/gemm_microkernel.h"
#include "autograd/kernels/gemm_pack.h"

namespace qforge::autograd::kernels {
namespace {

using detail::kMR;
using detail::kNR;
using detail::Operands;

// kc: 12 x 384 x 4 B = 18 KiB of A in L1 next to the streamed B rows.
// nc: 384 x 512 x 4 B = 768 KiB of packed B, three quarters of the private L2.
// mc: the shared A panel, 3072 x 384 x 4 B = 4.5 MiB, comfortably inside the shared L3.
constexpr int64_t kKC = 384;
constexpr int64_t kNC = 512;
constexpr int64_t kMC = 3072;
// Below this many multiply-adds packing and the tile padding cost more than they save.
constexpr int64_t kTinyMacs = 16 * 16 * 16;
// Each extra thread needs roughly this much work to pay for the fork/join and barriers.
constexpr int64_t kMacsPerThread = 48 * 48 * 48;
// Products at most this large are run one-per-thread in gemm_batched.
constexpr int64_t kBatchParallelMacs = 160 * 160 * 160;

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
thread_local ScratchBuffer tl_pack_a;  // shared A panel (owned by the thread that calls gemm)
thread_local ScratchBuffer tl_pack_b;  // private B block of each worker thread

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

void barrier(int nth) {
  if (nth > 1) {
#pragma omp barrier
  }
}

// The part of the blocked algorithm executed by thread `tid` of `nth`. Threads either split the
// columns of C (each packs its own B block, all share the A panel, packed cooperatively) or,
// when n is too narrow to share out, the rows of C (each packs the A rows it uses; B is small).
// `apack` holds two A panels so packing slice p+1 can start while a peer still reads slice p.
void run_blocked(const Operands& g, float* apack, int tid, int nth, bool split_n) {
  const int64_t kc_nom = ceil_div(g.k, ceil_div(g.k, kKC));  // balanced slices, no thin tail
  const int64_t mc_nom = round_up(ceil_div(g.m, ceil_div(g.m, kMC)), kMR);
  const int64_t n_units = ceil_div(g.n, kNR);
  const int64_t j_lo = split_n ? std::min(g.n, n_units * tid / nth * kNR) : 0;
  const int64_t j_hi = split_n ? std::min(g.n, n_units * (tid + 1) / nth * kNR) : g.n;
  float* bpack = tl_pack_b.get(kc_nom * std::min(round_up(g.n, kNR), kNC));
  int slice = 0;
  for (int64_t i0 = 0; i0 < g.m; i0 += mc_nom) {
    const int64_t mc = std::min(mc_nom, g.m - i0);
    const int64_t panels = ceil_div(mc, kMR);
    const int64_t mp_lo = split_n ? 0 : panels * tid / nth;
    const int64_t mp_hi = split_n ? panels : panels * (tid + 1) / nth;
    for (int64_t p0 = 0; p0 < g.k; p0 += kc_nom, ++slice) {
      const int64_t kc = std::min(kc_nom, g.k - p0);
      float* a_slice = apack + (slice & 1) * mc_nom * kc_nom;
      if (split_n) {  // everyone needs the whole panel: pack a share each, then sync
        detail::pack_a(g, i0, mc, p0, kc, a_slice, panels * tid / nth, panels * (tid + 1) / nth);
        barrier(nth);
      } else {  // each thread only reads the A rows it packed itself
        detail::pack_a(g, i0, mc, p0, kc, a_slice, mp_lo, mp_hi);
      }
      const float beta = p0 == 0 ? g.beta : 1.0f;  // later slices accumulate into C
      for (int64_t j0 = j_lo; j0 < j_hi; j0 += kNC) {
        const int64_t nc = std::min(kNC, j_hi - j0);
        detail::pack_b(g, p0, kc, j0, nc, bpack);
        for (int64_t mp = mp_lo; mp < mp_hi; ++mp) {
          const float* pa = a_slice + mp * kMR * kc;
          float* crow = g.c + (i0 + mp * kMR) * g.ldc + j0;
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mc - mp * kMR));
          for (int64_t np = 0; np * kNR < nc; ++np) {
            const int nr = static_cast<int>(std::min<int64_t>(kNR, nc - np * kNR));
            detail::micro_kernel(kc, pa, bpack + np * kNR * kc, crow + np * kNR, g.ldc, g.alpha, beta, mr, nr);
          }
        }
      }
    }
  }
}

void gemm_impl(const Operands& g, int max_threads) {
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0 || g.alpha == 0.0f) return scale_c(g);
  const int64_t macs = g.m * g.n * g.k;
  if (macs <= kTinyMacs) return gemm_tiny(g);
  const int nth = static_cast<int>(std::clamp<int64_t>(macs / kMacsPerThread, 1, max_threads));
  const bool split_n = balance(ceil_div(g.n, kNR), nth) >= balance(ceil_div(g.m, kMR), nth);
  const int64_t kc_nom = ceil_div(g.k, ceil_div(g.k, kKC));
  const int64_t mc_nom = round_up(ceil_div(g.m, ceil_div(g.m, kMC)), kMR);
  float* apack = tl_pack_a.get(2 * mc_nom * kc_nom);
  if (nth == 1) return run_blocked(g, apack, 0, 1, true);
#pragma omp parallel num_threads(nth)
  run_blocked(g, apack, omp_get_thread_num(), omp_get_num_threads(), split_n);
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
  if (batch > 1 && threads > 1 && m * n * k <= kBatchParallelMacs) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast<int>(std::min<int64_t>(threads, batch)))
    for (int64_t i = 0; i < batch; ++i) one(i, 1);
    return;
  }
  for (int64_t i = 0; i < batch; ++i) one(i, threads);
}

}  // namespace qforge::autograd::kernels
