// Q4_0, Q4_1, Q5_1: hand-worked decodes and encodes (docs/gguf.md §6), the truncating level rule of the
// reference encoders, and the importance path's weighting. llama-quantize's own bytes for these types:
// exporters.test_llama_quantize_golden.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "fakequant/formats/ggml/q4_0.h"
#include "fakequant/formats/ggml/q4_1.h"
#include "fakequant/formats/ggml/q5_1.h"
#include "tests/fakequant/ggml_test_util.h"

namespace qforge::fakequant::ggml {
namespace {

TEST(GgmlQ4_0, DecodesHandWorkedBlock) {
  block_q4_0 b{};
  b.d = 0xB800;  // −0.5
  b.qs[0] = 0x9F;  // element 0: q 15, element 16: q 9
  std::vector<float> y(32);
  dequantize_row_q4_0(&b, y.data(), 32);
  EXPECT_EQ(y[0], -3.5f);   // (15 − 8)·(−0.5)
  EXPECT_EQ(y[16], -0.5f);  // (9 − 8)·(−0.5)
  EXPECT_EQ(y[1], 4.f);     // (0 − 8)·(−0.5)
}

TEST(GgmlQ4_0, EncodesHandWorkedBlock) {
  // x = j mod 16 − 8: the extreme −8 gives d = −8/−8 = 1 and q = trunc(x + 8.5) = x + 8.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 8);
  block_q4_0 b{};
  quantize_row_q4_0_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], 0x11 * j) << j;
  // The negated row: the extreme is now +8, so d = 8/−8 = −1 and q = trunc(−x + 8.5), the same levels.
  for (float& v : x) v = -v;
  quantize_row_q4_0_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0xBC00);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], 0x11 * j) << j;
  // Levels truncate x/d + 8.5 toward zero, clamped to 15: with d = 1, x = 7.4 -> 15 and x = −7.6 -> 0.
  x.assign(32, 0.f);
  x[0] = -8.f, x[1] = 7.4f, x[2] = -7.6f, x[3] = 7.9f;
  quantize_row_q4_0_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  EXPECT_EQ(b.qs[1] & 0xF, 15);  // 15.9 -> 15
  EXPECT_EQ(b.qs[2] & 0xF, 0);   // 0.9 -> 0
  EXPECT_EQ(b.qs[3] & 0xF, 15);  // 16.4 -> 16 -> clamped 15
  EXPECT_EQ(b.qs[4] & 0xF, 8);   // 8.5 -> 8
}

TEST(GgmlQ4_1, DecodesHandWorkedBlock) {
  block_q4_1 b{};
  b.d = 0x3800;  // 0.5
  b.m = 0xBC00;  // −1
  b.qs[3] = 0x2F;
  std::vector<float> y(32);
  dequantize_row_q4_1(&b, y.data(), 32);
  EXPECT_EQ(y[3], 6.5f);   // 15·0.5 − 1
  EXPECT_EQ(y[19], 0.f);   // 2·0.5 − 1
  EXPECT_EQ(y[0], -1.f);   // q 0: the min
}

TEST(GgmlQ4_1, EncodesHandWorkedBlock) {
  // x = 0.5·(j mod 16) − 1: min −1, d = 7.5/15 = 0.5, q = trunc(2(x + 1) + 0.5) = j mod 16.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.5f * static_cast<float>(j % 16) - 1.f;
  block_q4_1 b{};
  quantize_row_q4_1_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3800);
  EXPECT_EQ(b.m, 0xBC00);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], 0x11 * j) << j;
}

TEST(GgmlQ5_1, DecodesHandWorkedBlockWithHighBits) {
  block_q5_1 b{};
  b.d = 0x3C00;  // 1
  b.m = 0x3800;  // 0.5
  b.qs[0] = 0x31;
  b.qh[0] = 0x01;  // bit 0: element 0
  b.qh[2] = 0x01;  // bit 16: element 16
  std::vector<float> y(32);
  dequantize_row_q5_1(&b, y.data(), 32);
  EXPECT_EQ(y[0], 17.5f);   // (1 | 16)·1 + 0.5
  EXPECT_EQ(y[16], 19.5f);  // (3 | 16)·1 + 0.5
  EXPECT_EQ(y[1], 0.5f);
}

TEST(GgmlQ5_1, EncodesHandWorkedBlock) {
  // x = j: min 0, d = 31/31 = 1, q = j; elements 16..31 carry the 5th bit (qh bits 16..31).
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j);
  block_q5_1 b{};
  quantize_row_q5_1_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  EXPECT_EQ(b.m, 0x0000);
  const uint8_t qh[4] = {0, 0, 0xFF, 0xFF};
  EXPECT_EQ(std::memcmp(b.qh, qh, 4), 0);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], 0x11 * j) << j;
}

// The importance path (make_qx_quants / make_qkx3_quants weighted by imp·sqrt(σ² + x²)) puts the
// error where the importance is small: on a row whose first half of every block matters 1000x more,
// that half is reproduced better than without importance, in each type.
template <typename Block>
void expect_importance_moves_error(const char* name, void (*quantize)(const float*, Block*, int64_t, const float*),
                                   void (*dequantize)(const Block*, float*, int64_t)) {
  const int64_t k = 32 * 64;
  const std::vector<float> x = testing::gaussian_data(k, 11);
  std::vector<float> imp(k);
  for (int64_t j = 0; j < k; ++j) imp[j] = j % 32 < 16 ? 1000.f : 1.f;
  std::vector<Block> plain(k / 32), weighted(k / 32);
  quantize(x.data(), plain.data(), k, nullptr);
  quantize(x.data(), weighted.data(), k, imp.data());
  std::vector<float> yp(k), yw(k);
  dequantize(plain.data(), yp.data(), k);
  dequantize(weighted.data(), yw.data(), k);
  double err_plain = 0, err_weighted = 0;
  for (int64_t j = 0; j < k; ++j) {
    if (j % 32 >= 16) continue;
    err_plain += (yp[j] - x[j]) * double(yp[j] - x[j]);
    err_weighted += (yw[j] - x[j]) * double(yw[j] - x[j]);
  }
  std::printf("%s: squared error on the important half %.3f with importance, %.3f without\n", name, err_weighted,
              err_plain);
  EXPECT_LT(err_weighted, 0.9 * err_plain) << name;
  EXPECT_FALSE(testing::same_bytes(plain, weighted));
}

TEST(GgmlQ4_0Q4_1Q5_1, ImportanceWeightsTheError) {
  expect_importance_moves_error<block_q4_0>("q4_0", quantize_row_q4_0_ref, dequantize_row_q4_0);
  expect_importance_moves_error<block_q4_1>("q4_1", quantize_row_q4_1_ref, dequantize_row_q4_1);
  expect_importance_moves_error<block_q5_1>("q5_1", quantize_row_q5_1_ref, dequantize_row_q5_1);
}

TEST(GgmlQ4_0Q4_1Q5_1, RejectPartialBlocks) {
  std::vector<float> x(48);
  std::vector<block_q5_1> b(2);
  EXPECT_THROW(quantize_row_q5_1_ref(x.data(), b.data(), 48), std::invalid_argument);
  EXPECT_THROW(dequantize_row_q5_1(b.data(), x.data(), 48), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::fakequant::ggml
