#pragma once
// The deterministic row behind tests/golden/ggml_llama_reference_blocks.txt: integer LCG values scaled
// by powers of two (exact in float on every platform), with a few 8x outliers and an all-zero
// sub-range; the importance vector is skewed (mostly 1-5, every 37th value 100).

#include <cstdint>
#include <string>
#include <vector>

namespace qforge::fakequant::ggml::testing {

constexpr int64_t kGoldenRowLength = 512;

inline uint32_t golden_lcg(uint32_t& state) {
  state = state * 1664525u + 1013904223u;
  return state >> 8;
}

inline std::vector<float> golden_row() {
  std::vector<float> x(kGoldenRowLength);
  uint32_t s = 12345;
  for (int64_t i = 0; i < kGoldenRowLength; ++i) {
    const int v = static_cast<int>(golden_lcg(s) % 20001) - 10000;
    const bool outlier = golden_lcg(s) % 64 == 0;
    x[i] = static_cast<float>(v) / 8192.f * (outlier ? 8.f : 1.f);
    if (i >= 288 && i < 320) x[i] = 0.f;
  }
  return x;
}

inline std::vector<float> golden_importance() {
  std::vector<float> w(kGoldenRowLength);
  uint32_t s = 777;
  for (int64_t i = 0; i < kGoldenRowLength; ++i) w[i] = i % 37 == 0 ? 100.f : static_cast<float>(1 + golden_lcg(s) % 5);
  return w;
}

}  // namespace qforge::fakequant::ggml::testing
