#pragma once
// Shared helpers for the ggml block codec tests.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace qforge::fakequant::ggml::testing {

// Gaussian rows with a few large outliers (as in real weight matrices), fixed seed.
inline std::vector<float> gaussian_data(int64_t n, uint32_t seed, float outlier_fraction = 0.01f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng) * (unit(rng) < outlier_fraction ? 8.f : 1.f);
  return x;
}

inline double rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
  return std::sqrt(s / a.size());
}

inline double stddev(const std::vector<float>& a) {
  double m = 0, s = 0;
  for (float v : a) m += v;
  m /= a.size();
  for (float v : a) s += (v - m) * (v - m);
  return std::sqrt(s / a.size());
}


template <typename Block>
bool same_bytes(const std::vector<Block>& a, const std::vector<Block>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Block)) == 0;
}

}  // namespace qforge::fakequant::ggml::testing
