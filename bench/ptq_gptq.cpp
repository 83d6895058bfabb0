// GPTQ on one layer from raw float32 files, timed: the Hessian of `tokens` calibration rows streamed in
// batches, then gptq_quantize. bench/ptq_gptq.py runs it beside a PyTorch GPTQ on the same files.
// Usage: ptq_gptq X.f32 W.f32 tokens rows cols batch bits group [act_order]
// Prints one line: hessian_s=... gptq_s=... loss=... (loss: GPTQ's proxy error, the same on both sides).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <string>

#include "ptq/gptq.h"

using namespace qforge;

namespace {

std::span<const float> map_floats(const char* path, size_t count) {
  const int fd = open(path, O_RDONLY);
  struct stat st {};
  if (fd < 0 || fstat(fd, &st) != 0) throw std::runtime_error(std::string("ptq_gptq: cannot open ") + path);
  if (static_cast<size_t>(st.st_size) < count * sizeof(float))
    throw std::runtime_error(std::string("ptq_gptq: ") + path + " holds fewer than " + std::to_string(count) + " floats");
  void* data = mmap(nullptr, count * sizeof(float), PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (data == MAP_FAILED) throw std::runtime_error(std::string("ptq_gptq: cannot map ") + path);
  return {static_cast<const float*>(data), count};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 9) {
    std::fprintf(stderr, "usage: ptq_gptq X.f32 W.f32 tokens rows cols batch bits group [act_order]\n");
    return 2;
  }
  const int64_t tokens = std::atoll(argv[3]), rows = std::atoll(argv[4]), cols = std::atoll(argv[5]);
  const int64_t batch = std::atoll(argv[6]);
  ptq::IntGrid grid{std::atoi(argv[7]), true, std::atoll(argv[8])};
  ptq::GptqOptions options;
  options.act_order = argc > 9 && std::string(argv[9]) == "act_order";
  try {
    const std::span<const float> x = map_floats(argv[1], static_cast<size_t>(tokens * cols));
    const std::span<const float> w = map_floats(argv[2], static_cast<size_t>(rows * cols));
    auto start = std::chrono::steady_clock::now();
    ptq::HessianAccumulator hessian(cols);
    for (int64_t t = 0; t < tokens; t += batch)
      hessian.add(x.subspan(static_cast<size_t>(t * cols), static_cast<size_t>(std::min(batch, tokens - t) * cols)));
    const double hessian_s = seconds_since(start);
    start = std::chrono::steady_clock::now();
    const ptq::GptqLayer layer = ptq::gptq_quantize(w, rows, cols, hessian.matrix(), grid, options);
    const double gptq_s = seconds_since(start);
    std::printf("hessian_s=%.3f gptq_s=%.3f loss=%.6g\n", hessian_s, gptq_s, layer.loss);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
