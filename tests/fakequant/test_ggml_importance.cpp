// Importance-weighted quantization (docs/gguf.md §9): with an importance vector, the
// importance-weighted squared error Σ_j imp_j (w_j − q_j)² of Q4_K, Q6_K, IQ4_NL and Q5_0 rows is
// lower than without it. Rows: Gaussian weights; importance: log-normal per column (a few channels
// dominate, as in real activation statistics). Ratios are printed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "fakequant/formats/ggml/block_types.h"

namespace qforge::fakequant::ggml {
namespace {

struct Errors {
  double weighted = 0.0, plain = 0.0;
};

// Σ over rows of Σ_j imp_j (w − q)² (weighted) and Σ (w − q)² (plain), quantizing with or without `importance`.
Errors row_errors(const BlockType& type, const std::vector<float>& w, int64_t k, const std::vector<float>& imp,
                  bool use_importance) {
  Errors e;
  std::vector<float> q(static_cast<size_t>(k));
  for (size_t r = 0; r < w.size() / static_cast<size_t>(k); ++r) {
    const float* row = w.data() + r * k;
    fake_quantize_row(type, row, q.data(), k, use_importance ? imp.data() : nullptr);
    for (int64_t j = 0; j < k; ++j) {
      const double d = static_cast<double>(row[j]) - q[j];
      e.weighted += imp[j] * d * d;
      e.plain += d * d;
    }
  }
  return e;
}

TEST(GgmlImportance, WeightedErrorIsLowerWithImportance) {
  const int64_t k = 2048, rows = 48;
  std::mt19937 rng(2024);
  std::normal_distribution<float> gauss(0.0f, 0.02f);
  std::lognormal_distribution<float> skewed(0.0f, 1.5f);
  std::vector<float> w(static_cast<size_t>(k * rows)), imp(static_cast<size_t>(k));
  for (float& x : w) x = gauss(rng);
  for (float& x : imp) x = skewed(rng);
  // {type, bound on the weighted-error ratio}; measured (seed 2024): q4_K 0.581, q6_K 0.634, iq4_nl 0.655, q5_0 0.666.
  const std::vector<std::pair<const char*, double>> cases = {{"q4_K", 0.70}, {"q6_K", 0.75}, {"iq4_nl", 0.75}, {"q5_0", 0.75}};
  for (const auto& [name, bound] : cases) {
    const BlockType& type = block_type(name);
    const Errors without = row_errors(type, w, k, imp, false), with = row_errors(type, w, k, imp, true);
    const double ratio = with.weighted / without.weighted;
    std::printf("%-7s weighted error with/without importance = %.4f (unweighted: %.4f)\n", name, ratio,
                with.plain / without.plain);
    EXPECT_LT(ratio, bound) << name;
  }
}

TEST(GgmlImportance, UniformImportanceChangesLittle) {
  // A constant importance carries no information: the weighted search must not do much worse than the
  // plain one (it uses imp·sqrt(σ² + x²) weights, so it is not identical).
  const int64_t k = 1024, rows = 16;
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(k * rows)), imp(static_cast<size_t>(k), 1.0f);
  for (float& x : w) x = gauss(rng);
  for (const char* name : {"q4_K", "q6_K", "iq4_nl"}) {
    const BlockType& type = block_type(name);
    const double ratio = row_errors(type, w, k, imp, true).plain / row_errors(type, w, k, imp, false).plain;
    std::printf("%-7s plain error with constant importance / without = %.4f\n", name, ratio);
    EXPECT_LT(ratio, 1.05) << name;
  }
}

}  // namespace
}  // namespace qforge::fakequant::ggml
