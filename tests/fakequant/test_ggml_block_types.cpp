// All ggml block types through the registry: ids and sizes, re-quantization of the quantizer's own
// output, error bounds on Gaussian data, and importance weighting.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "fakequant/formats/ggml/block_types.h"
#include "tests/fakequant/ggml_test_util.h"

namespace qforge::fakequant::ggml {
namespace {

using testing::gaussian_data;

std::vector<uint8_t> quantize(const BlockType& t, const std::vector<float>& x, const float* imp = nullptr) {
  std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes(t, static_cast<int64_t>(x.size()))));
  t.quantize_row(x.data(), bytes.data(), static_cast<int64_t>(x.size()), imp);
  return bytes;
}

std::vector<float> dequantize(const BlockType& t, const std::vector<uint8_t>& bytes, int64_t k) {
  std::vector<float> y(static_cast<size_t>(k));
  t.dequantize_row(bytes.data(), y.data(), k);
  return y;
}

TEST(GgmlBlockTypes, IdsAndSizesMatchGgml) {
  struct Expect { const char* name; int id; int64_t elements, bytes; };
  const Expect table[] = {{"F32", 0, 1, 4},      {"F16", 1, 1, 2},     {"Q5_0", 6, 32, 22},
                          {"Q8_0", 8, 32, 34},   {"Q4_K", 12, 256, 144}, {"Q6_K", 14, 256, 210},
                          {"IQ4_NL", 20, 32, 18}, {"BF16", 30, 1, 2},   {"Q4_0", 2, 32, 18},
                          {"Q4_1", 3, 32, 20},   {"Q5_1", 7, 32, 24},   {"Q2_K", 10, 256, 84},
                          {"Q3_K", 11, 256, 110}, {"Q5_K", 13, 256, 176}, {"IQ4_XS", 23, 256, 136},
                          {"TQ1_0", 34, 256, 54}, {"TQ2_0", 35, 256, 66}};
  for (const Expect& e : table) {
    const BlockType& by_name = block_type(e.name);
    EXPECT_EQ(by_name.ggml_type_id, e.id) << e.name;
    EXPECT_EQ(by_name.block_elements, e.elements) << e.name;
    EXPECT_EQ(by_name.block_bytes, e.bytes) << e.name;
    EXPECT_EQ(&block_type(e.id), &by_name) << e.name;
  }
  EXPECT_STREQ(block_type("q4_k").name, "q4_K");
  EXPECT_THROW(block_type("i8"), std::invalid_argument);
  EXPECT_THROW(block_type(24), std::invalid_argument);
  EXPECT_EQ(row_bytes(block_type("q6_K"), 4096), 16 * 210);
  EXPECT_THROW(row_bytes(block_type("q8_0"), 48), std::invalid_argument);
}

TEST(GgmlBlockTypes, FloatRowsRoundAsGgml) {
  const std::vector<float> x = {1.0f, 1.00048828125f, 65520.f, -0.1f, 1.0f + 1.0f / 256};
  const auto f16 = dequantize(block_type("f16"), quantize(block_type("f16"), x), 5);
  EXPECT_EQ(f16[1], 1.0f);            // tie between 1 and 1+2^-10 -> even
  EXPECT_TRUE(std::isinf(f16[2]));    // rounds past 65504
  EXPECT_EQ(f16[3], -0.0999755859375f);
  const auto bf16 = dequantize(block_type("bf16"), quantize(block_type("bf16"), x), 5);
  EXPECT_EQ(bf16[4], 1.0f);           // tie 1 + 2^-8 -> even (1.0)
  EXPECT_EQ(bf16[3], -0.10009765625f);
  const auto f32 = dequantize(block_type("f32"), quantize(block_type("f32"), x), 5);
  EXPECT_EQ(f32, x);
}

// quantize(dequantize(blocks)) == blocks: the amax/min-max-based (incl. the ternary TQ1_0/TQ2_0) and IQ4_NL
// quantizers reproduce their own output bit for bit. llama.cpp's k-quant scale searches (Q2_K..Q6_K) and
// IQ4_XS's 6-bit block scales (measured: 12 of 64 blocks change) are not idempotent (the search on the
// dequantized values may settle on another sub-block scale), so for those the fraction of changed
// blocks is measured and bounded, and the re-quantized values must stay close to the first decode. IQ3_XXS,
// IQ3_S, IQ2_S and IQ1_M store d times a fudge factor (1.0125, 1.033, 0.9875, 1.1125: llama.cpp), so every
// block changes on re-quantizing (measured 64 of 64); only their drift is bounded.
TEST(GgmlBlockTypes, RequantizingDequantizedBlocks) {
  const int64_t k = 256 * 64;
  for (const BlockType& t : all_block_types()) {
    if (t.needs_importance) continue;  // IQ2_XXS, IQ2_XS, IQ1_S: the golden tests cover them
    const bool searched = std::string(t.name).back() == 'K' || std::string(t.name) == "iq4_xs";
    const std::string n = t.name;
    const bool fudged = n == "iq3_xxs" || n == "iq3_s" || n == "iq2_s" || n == "iq1_m";
    const std::vector<float> x = gaussian_data(k, 11);
    const auto bytes = quantize(t, x);
    const auto first = dequantize(t, bytes, k);
    const auto again = quantize(t, first);
    size_t differing_blocks = 0;
    for (size_t b = 0; b < bytes.size(); b += t.block_bytes) {
      differing_blocks += std::memcmp(&bytes[b], &again[b], t.block_bytes) != 0;
    }
    const double drift = testing::rmse(first, dequantize(t, again, k)) / testing::rmse(x, first);
    std::printf("%-7s requantized blocks differing: %zu of %zu, value drift %.4f of the quantization RMSE\n",
                t.name, differing_blocks, bytes.size() / t.block_bytes, t.name[0] == 'f' ? 0.0 : drift);
    if (fudged) {
      EXPECT_LT(drift, 0.5) << t.name;  // measured 0.14, 0.17, 0.17, 0.23
    } else if (!searched) {
      EXPECT_EQ(differing_blocks, 0u) << t.name;
    } else {
      EXPECT_LT(differing_blocks, bytes.size() / t.block_bytes / 2) << t.name;
      EXPECT_LT(drift, 0.5) << t.name;
    }
  }
}

TEST(GgmlBlockTypes, ErrorRelativeToDataStd) {
  struct Bound { const char* name; double max_rel_rmse; };
  const Bound bounds[] = {{"f32", 0.0},    {"f16", 5e-4},   {"bf16", 3e-3},  {"q8_0", 0.01},
                          {"q6_K", 0.03},  {"q5_0", 0.07},  {"q4_K", 0.1},   {"iq4_nl", 0.12},
                          {"q5_K", 0.06},  {"q5_1", 0.06},  {"q4_1", 0.12},  {"q4_0", 0.14},
                          {"q3_K", 0.22},  {"q2_K", 0.4},   {"iq4_xs", 0.12}, {"tq1_0", 0.85},
                          {"tq2_0", 0.85}};  // ternary with d = max |x|: 0.81 on Gaussian data
  const int64_t k = 256 * 64;
  const std::vector<float> x = gaussian_data(k, 3);
  const double sd = testing::stddev(x);
  for (const Bound& b : bounds) {
    const BlockType& t = block_type(b.name);
    const double rel = testing::rmse(x, dequantize(t, quantize(t, x), k)) / sd;
    std::printf("%-7s RMSE / std = %.5f (bound %.3g)\n", t.name, rel, b.max_rel_rmse);
    EXPECT_LE(rel, b.max_rel_rmse) << t.name;
  }
}

double weighted_sq_error(const std::vector<float>& x, const std::vector<float>& y, const std::vector<float>& w) {
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += w[i] * (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  return s;
}

// Importance = mean x² of each input column (an imatrix); a skewed one (a few hot columns) must lower
// the error where it matters for every type that uses it (llama.cpp: K-quants, IQ4_NL, Q5_0).
TEST(GgmlBlockTypes, ImportanceLowersWeightedError) {
  const int64_t k = 4096;
  std::vector<float> imp(k, 1.f);
  std::mt19937 rng(5);
  for (int64_t i = 0; i < k; ++i) imp[i] = (rng() % 10 == 0) ? 100.f : 1.f;
  for (const char* name : {"q5_0", "q4_K", "q6_K", "iq4_nl", "iq4_xs"}) {
    const BlockType& t = block_type(name);
    double plain = 0, weighted = 0;
    for (uint32_t row = 0; row < 8; ++row) {
      const std::vector<float> x = gaussian_data(k, 100 + row);
      plain += weighted_sq_error(x, dequantize(t, quantize(t, x), k), imp);
      weighted += weighted_sq_error(x, dequantize(t, quantize(t, x, imp.data()), k), imp);
    }
    std::printf("%-7s weighted error: plain %.4f, with importance %.4f (ratio %.3f)\n", name, plain, weighted,
                weighted / plain);
    EXPECT_LT(weighted, 0.95 * plain) << name;
  }
  // Q8_0 and the ternary types ignore importance, as llama.cpp does.
  const std::vector<float> x = gaussian_data(k, 9);
  for (const char* name : {"q8_0", "tq1_0", "tq2_0"}) {
    EXPECT_EQ(quantize(block_type(name), x), quantize(block_type(name), x, imp.data())) << name;
  }
}

TEST(GgmlBlockTypes, FakeQuantizeRowIsDequantizeOfQuantize) {
  const BlockType& t = block_type("q4_K");
  const std::vector<float> x = gaussian_data(512, 1);
  std::vector<float> y(512);
  fake_quantize_row(t, x.data(), y.data(), 512);
  EXPECT_EQ(y, dequantize(t, quantize(t, x), 512));
}

}  // namespace
}  // namespace qforge::fakequant::ggml
