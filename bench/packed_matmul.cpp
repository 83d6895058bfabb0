// packed_matmul (frozen packed W, tile-wise decode) against the dense matmul on the same shapes: the
// cost of keeping a QLoRA base weight in 4 bits. Forward alone (y = x W^T) and forward plus the input
// gradient (dx = dy W; W gets none in either op), median of alternating runs (packed, dense, packed,
// ...) so load changes on a shared machine hit both sides alike.
// Wall time is what the target is about; on a loaded machine (the scheduler hands out time
// slices, medians then snap to multiples of ~4 ms) the process CPU time of each op, summed over its
// threads, is printed too (run with OMP_WAIT_POLICY=passive so idle threads do not spin).
// Usage: packed_matmul [reps] [formats, comma separated]   (default 9, nf4,q4_K,q8_0)
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "fakequant/packed/pack_weight.h"

using namespace qforge;
using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;

namespace {

struct Cost {
  double wall_ms, cpu_ms;
};

double process_cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-3;
}

Cost elapsed(const std::function<void()>& step) {
  const double cpu0 = process_cpu_ms();
  const auto start = std::chrono::steady_clock::now();
  step();
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return {wall, process_cpu_ms() - cpu0};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Pair {
  Cost packed, dense;
};

// Median wall and CPU times of `packed` and `dense`, run alternately after one warm-up each.
Pair alternate(int reps, const std::function<void()>& packed, const std::function<void()>& dense) {
  packed();
  dense();
  std::vector<double> wp, wd, cp, cd;
  for (int r = 0; r < reps; ++r) {
    const Cost p = elapsed(packed), d = elapsed(dense);
    wp.push_back(p.wall_ms);
    cp.push_back(p.cpu_ms);
    wd.push_back(d.wall_ms);
    cd.push_back(d.cpu_ms);
  }
  return {{median(wp), median(cp)}, {median(wd), median(cd)}};
}

void print_pair(const char* label, const Pair& p) {
  std::printf(" %s: packed_ms=%7.3f dense_ms=%7.3f ratio=%5.3f (cpu ratio %5.3f)", label, p.packed.wall_ms,
              p.dense.wall_ms, p.packed.wall_ms / p.dense.wall_ms, p.packed.cpu_ms / p.dense.cpu_ms);
}

void bench_shape(const std::string& format, int64_t n, int64_t out, int64_t in, int reps) {
  const Tensor w = Tensor::randn(Shape{out, in}, 1, 0.02f);
  const autograd::PackedWeightPtr packed = fakequant::pack_weight(format, w.data(), out, in);
  const Variable dense_w(w);
  const Tensor xt = Tensor::randn(Shape{n, in}, 2, 1.0f), dy = Tensor::randn(Shape{n, out}, 3, 1.0f);
  Variable x_const(xt), x(xt.clone(), true);
  const auto fwd = alternate(
      reps, [&] { autograd::packed_matmul(x_const, packed); },
      [&] { autograd::matmul(x_const, dense_w, false, true); });
  const auto both = alternate(
      reps,
      [&] {
        x.zero_grad();
        autograd::packed_matmul(x, packed).backward(dy);
      },
      [&] {
        x.zero_grad();
        autograd::matmul(x, dense_w, false, true).backward(dy);
      });
  const std::string shape = "x[" + std::to_string(n) + "," + std::to_string(in) + "] W[" + std::to_string(out) +
                            "," + std::to_string(in) + "]";
  std::printf("packed_matmul %-6s shape=%-26s", format.c_str(), shape.c_str());
  print_pair("forward", fwd);
  print_pair("| forward+dx", both);
  std::printf("\n");
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> parts;
  std::stringstream in(s);
  for (std::string p; std::getline(in, p, ',');) parts.push_back(p);
  return parts;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const std::vector<std::string> formats = split(argc > 2 ? argv[2] : "nf4,q4_K,q8_0");
  std::printf("packed_matmul vs dense matmul, %d threads, median of %d alternating runs (Release, -march=native)\n",
              omp_get_max_threads(), reps);
  const std::vector<std::pair<int64_t, int64_t>> shapes = {{2816, 1024}, {1024, 2816}, {1024, 1024}};
  for (const std::string& format : formats) {
    for (auto [out, in] : shapes) bench_shape(format, 256, out, in, reps);
  }
}
