// AWQ's searches on one MLP block from raw float32 files, timed: the scale search over alpha = i / 20
// judged on the SwiGLU output silu(x Wg^T) * (x Wu^T) (llm-awq's gate/up group, Lin et al. 2023 §3.2),
// then the clip search on both weights with 512 sampled tokens of the scaled inputs (§3.3, auto_clip).
// bench/ptq_awq.py runs it beside a PyTorch AWQ on the same files.
// Usage: ptq_awq X.f32 Wgate.f32 Wup.f32 tokens hidden inter bits group asym(0|1)
// Prints one line: scale_s=... clip_s=... alpha=... rtn_loss=... loss=... (output mean squared errors:
// alpha 0 without clipping, and the final scaled and clipped weights).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "ptq/awq.h"

using namespace qforge;

namespace {

std::span<const float> map_floats(const char* path, size_t count) {
  const int fd = open(path, O_RDONLY);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) throw std::runtime_error(std::string("ptq_awq: cannot open ") + path);
  if (static_cast<size_t>(st.st_size) < count * sizeof(float))
    throw std::runtime_error(std::string("ptq_awq: ") + path + " holds fewer than " + std::to_string(count) + " floats");
  void* data = mmap(nullptr, count * sizeof(float), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (data == MAP_FAILED) throw std::runtime_error(std::string("ptq_awq: cannot map ") + path);
  return {static_cast<const float*>(data), count};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The gate/up block: out = silu(x Wg^T) * (x Wu^T), x [n, hidden], W [inter, hidden].
struct SwiGlu {
  int64_t n, hidden, inter;
  std::vector<float> gate, up;

  // Mean squared difference of the block's output from `reference` (or the output itself when null).
  double run(std::span<const float> x, std::span<const float> wg, std::span<const float> wu, std::vector<float>* out,
             const std::vector<float>* reference) {
    gate.resize(static_cast<size_t>(n * inter)), up.resize(static_cast<size_t>(n * inter));
    autograd::kernels::gemm(false, true, n, inter, hidden, 1.0f, x.data(), hidden, wg.data(), hidden, 0.0f, gate.data(), inter);
    autograd::kernels::gemm(false, true, n, inter, hidden, 1.0f, x.data(), hidden, wu.data(), hidden, 0.0f, up.data(), inter);
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int64_t i = 0; i < n * inter; ++i) {
      const float y = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
      if (out != nullptr) (*out)[i] = y;
      if (reference != nullptr) total += (static_cast<double>(y) - (*reference)[i]) * (static_cast<double>(y) - (*reference)[i]);
    }
    return total / static_cast<double>(n * inter);
  }
};

// Every k-th row with k = n / 512 (llm-awq auto_clip's input_feat[:, 0::n // n_sample_token]).
std::vector<float> sample_rows(std::span<const float> x, int64_t n, int64_t cols, int64_t limit = 512) {
  const int64_t step = std::max<int64_t>(1, n / limit);
  std::vector<float> out;
  for (int64_t t = 0; t < n; t += step) out.insert(out.end(), x.begin() + t * cols, x.begin() + (t + 1) * cols);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 10) {
    std::fprintf(stderr, "usage: ptq_awq X.f32 Wgate.f32 Wup.f32 tokens hidden inter bits group asym(0|1)\n");
    return 2;
  }
  const int64_t n = std::atoll(argv[4]), hidden = std::atoll(argv[5]), inter = std::atoll(argv[6]);
  const ptq::IntGrid grid{std::atoi(argv[7]), std::atoi(argv[9]) == 0, std::atoll(argv[8])};
  try {
    const std::span<const float> x = map_floats(argv[1], static_cast<size_t>(n * hidden));
    const std::span<const float> wg = map_floats(argv[2], static_cast<size_t>(inter * hidden));
    const std::span<const float> wu = map_floats(argv[3], static_cast<size_t>(inter * hidden));
    SwiGlu block{n, hidden, inter, {}, {}};
    auto start = std::chrono::steady_clock::now();
    std::vector<float> reference(static_cast<size_t>(n * inter));
    block.run(x, wg, wu, &reference, nullptr);
    const ptq::AwqScaleSearch search = ptq::search_scales(ptq::mean_abs(x, hidden), [&](const std::vector<float>& s) {
      return block.run(x, ptq::scaled_fake_quantize(wg, inter, hidden, s, grid),
                       ptq::scaled_fake_quantize(wu, inter, hidden, s, grid), nullptr, &reference);
    });
    const double scale_s = seconds_since(start);
    start = std::chrono::steady_clock::now();
    // Fold the scales (W diag(s), x diag(s)^-1), then clip each weight on the scaled inputs.
    std::vector<float> xs(x.begin(), x.end()), g(wg.begin(), wg.end()), u(wu.begin(), wu.end());
    for (int64_t i = 0; i < n * hidden; ++i) xs[i] /= search.scales[i % hidden];
    for (int64_t i = 0; i < inter * hidden; ++i) g[i] *= search.scales[i % hidden], u[i] *= search.scales[i % hidden];
    const std::vector<float> sample = sample_rows(xs, n, hidden);
    for (std::vector<float>* w : {&g, &u})
      ptq::apply_clip(*w, inter, hidden, ptq::search_clip(*w, inter, hidden, sample, grid), grid);
    const double clip_s = seconds_since(start);
    const double loss = block.run(xs, ptq::fake_quantize_weight(g, inter, hidden, grid),
                                  ptq::fake_quantize_weight(u, inter, hidden, grid), nullptr, &reference);
    std::printf("scale_s=%.3f clip_s=%.3f alpha=%.2f rtn_loss=%.6g loss=%.6g\n", scale_s, clip_s, search.alpha,
                search.losses[0], loss);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
