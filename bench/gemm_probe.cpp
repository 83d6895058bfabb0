// Standalone timing probe (not a unit test): GFLOP/s of qforge's sgemm vs Eigen's product for
// square sizes and the three layouts a matmul forward/backward uses:
//   NN  C = A * B        (forward)
//   NT  dA = dC * B^T    (gradient w.r.t. the left operand)
//   TN  dB = A^T * dC    (gradient w.r.t. the right operand)
// Built as build/bench/gemm_probe; standalone (from the repo root, one line):
//   g++ -O3 -march=native -fopenmp -DNDEBUG -std=c++20 -I. -isystem /usr/include/eigen3
//       bench/gemm_probe.cpp autograd/kernels/gemm.cpp autograd/kernels/gemm_pack.cpp
// Run:   OMP_NUM_THREADS=2 ./a.out [sizes...]
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "autograd/kernels/gemm.h"

namespace {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using qforge::autograd::kernels::gemm;

// Median over several timed batches; each batch runs enough products to last a few ms.
template <class F>
double gflops(int64_t n, F&& run) {
  const double flop = 2.0 * n * n * n;
  const int reps = static_cast<int>(std::clamp(3e9 / flop, 1.0, 200.0));
  for (int i = 0; i < 2; ++i) run();
  std::vector<double> t;
  for (int s = 0; s < 9; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) run();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return flop / t[t.size() / 2] * 1e-9;
}

void probe(int64_t n) {
  Mat a = Mat::Random(n, n), b = Mat::Random(n, n), c(n, n);
  const float* pa = a.data();
  const float* pb = b.data();
  float* pc = c.data();
  const double ours_nn = gflops(n, [&] { gemm(false, false, n, n, n, 1.f, pa, n, pb, n, 0.f, pc, n); });
  const double ours_nt = gflops(n, [&] { gemm(false, true, n, n, n, 1.f, pa, n, pb, n, 0.f, pc, n); });
  const double ours_tn = gflops(n, [&] { gemm(true, false, n, n, n, 1.f, pa, n, pb, n, 0.f, pc, n); });
  const double eig_nn = gflops(n, [&] { c.noalias() = a * b; });
  const double eig_nt = gflops(n, [&] { c.noalias() = a * b.transpose(); });
  const double eig_tn = gflops(n, [&] { c.noalias() = a.transpose() * b; });
  std::printf("%6lld | %7.1f %7.1f %7.1f | %7.1f %7.1f %7.1f\n", static_cast<long long>(n), ours_nn, ours_nt,
              ours_tn, eig_nn, eig_nt, eig_tn);
}

// Attention-like batched product: 64 x (128x32 * (128x32)^T), as in Q*K^T.
void probe_attention() {
  constexpr int64_t kBatch = 64, kSeq = 128, kHead = 32;
  Mat q = Mat::Random(kBatch * kSeq, kHead), kmat = Mat::Random(kBatch * kSeq, kHead), s(kBatch * kSeq, kSeq);
  const double flop = 2.0 * kBatch * kSeq * kSeq * kHead;
  const int reps = 50;
  auto time_it = [&](auto&& run) {
    std::vector<double> t;
    for (int r = 0; r < 7; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; ++i) run();
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
    }
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return flop / t[t.size() / 2] * 1e-9;
  };
  const double ours = time_it([&] {
    qforge::autograd::kernels::gemm_batched(false, true, kSeq, kSeq, kHead, 1.f, q.data(), kHead, kSeq * kHead,
                                            kmat.data(), kHead, kSeq * kHead, 0.f, s.data(), kSeq, kSeq * kSeq, kBatch);
  });
  const double eigen = time_it([&] {
    for (int64_t i = 0; i < kBatch; ++i)
      s.middleRows(i * kSeq, kSeq).noalias() = q.middleRows(i * kSeq, kSeq) * kmat.middleRows(i * kSeq, kSeq).transpose();
  });
  std::printf("attention batch 64 x 128x128x32 (NT): qforge %.1f, Eigen loop %.1f GFLOP/s\n", ours, eigen);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes = {256, 512, 1024, 2048};
  if (argc > 1) sizes.clear();
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  std::printf("GFLOP/s      qforge NN/NT/TN         |  Eigen NN/NT/TN\n");
  for (int64_t n : sizes) probe(n);
  if (argc == 1) probe_attention();
}
