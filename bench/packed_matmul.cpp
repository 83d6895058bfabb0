// packed_matmul (frozen packed W, tile-wise decode) against the dense matmul on the same shapes: the
// cost of keeping a QLoRA base weight in 4 bits. Forward alone (y = x W^T) and forward plus the input
// gradient (dx = dy W; W gets none in either op), median of alternating runs (packed, dense, packed,
// ...) so load changes on a shared machine hit both sides alike.
// Usage: packed_matmul [reps] [formats, comma separated]   (default 9, nf4,q4_K,q8_0)
#include <omp.h>

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

double elapsed_ms(const std::function<void()>& step) {
  const auto start = std::chrono::steady_clock::now();
  step();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median times of `packed` and `dense`, run alternately after one warm-up each.
std::pair<double, double> alternate(int reps, const std::function<void()>& packed, const std::function<void()>& dense) {
  packed();
  dense();
  std::vector<double> tp, td;
  for (int r = 0; r < reps; ++r) {
    tp.push_back(elapsed_ms(packed));
    td.push_back(elapsed_ms(dense));
  }
  return {median(tp), median(td)};
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
  std::printf("packed_matmul %-6s shape=%-26s forward: packed_ms=%7.3f dense_ms=%7.3f ratio=%5.3f | "
              "forward+dx: packed_ms=%7.3f dense_ms=%7.3f ratio=%5.3f\n",
              format.c_str(), shape.c_str(), fwd.first, fwd.second, fwd.first / fwd.second, both.first, both.second,
              both.first / both.second);
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
