// Q2_K, Q3_K, Q5_K: the scale packings, hand-worked decodes, exactly representable blocks, the fast
// Q5_K path against the reference, and the importance path (docs/gguf.md §6). llama-quantize's own bytes
// for these types: exporters.test_llama_quantize_golden.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "fakequant/formats/ggml/q2_k.h"
#include "fakequant/formats/ggml/q3_k.h"
#include "fakequant/formats/ggml/q5_k.h"
#include "tests/fakequant/ggml_test_util.h"

namespace qforge::fakequant::ggml {
namespace {

TEST(GgmlQ2_K, DecodesHandWorkedBlock) {
  block_q2_K b{};
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  b.scales[0] = 0x21;  // sub-block 0: sc 1, m 2
  b.scales[1] = 0x03;  // sub-block 1: sc 3, m 0
  b.scales[2] = 0x01;  // sub-block 2: sc 1, m 0
  b.scales[9] = 0x4F;  // sub-block 9: sc 15, m 4
  b.qs[0] = 0x04;           // element 32 (bits 2-3): q 1
  b.qs[16] = 0x03;          // element 16 (bits 0-1): q 3
  b.qs[32 + 16 + 5] = 0x02; // element 128 + 16 + 5 = 149 (sub-block 9): q 2
  std::vector<float> y(256);
  dequantize_row_q2_K(&b, y.data(), 256);
  EXPECT_EQ(y[0], -1.f);    // 1·1·0 − 0.5·2
  EXPECT_EQ(y[16], 9.f);    // 1·3·3
  EXPECT_EQ(y[32], 1.f);    // 1·1·1
  EXPECT_EQ(y[149], 28.f);  // 15·2 − 0.5·4
  EXPECT_EQ(y[150], -2.f);  // 15·0 − 0.5·4
  EXPECT_EQ(y[200], 0.f);
}

TEST(GgmlQ2_K, EncodesExactlyRepresentableBlock) {
  // Every sub-block is 0, 1, 2, 3 repeated: scale 1, min 0, zero error. 4-bit scales 15 (relative to
  // the largest), d = f16(1/15) = 0x2C44, dmin 0, levels the values.
  std::vector<float> x(256);
  for (int e = 0; e < 256; ++e) x[e] = static_cast<float>(e % 4);
  block_q2_K b{};
  quantize_row_q2_K_ref(x.data(), &b, 256);
  EXPECT_EQ(b.d, 0x2C44);
  EXPECT_EQ(b.dmin, 0x0000);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.scales[j], 0x0F) << j;
  for (int i = 0; i < 64; ++i) EXPECT_EQ(b.qs[i], 0x55 * (i % 4)) << i;
}

// s_0 = 33, s_9 = 30, every other s_j = 32 (value 0), packed by hand: low nibbles in scales[0..7]
// (j < 8) / high nibbles (j ≥ 8), high 2 bits in scales[8 + j % 4] at bit 2(j / 4).
constexpr uint8_t kQ3Scales[12] = {0x01, 0xE0, 0, 0, 0, 0, 0, 0, 0xAA, 0x9A, 0xAA, 0xAA};

TEST(GgmlQ3_K, PacksSixBitScalesAsWorkedByHand) {
  int codes[16];
  for (int& c : codes) c = 32;
  codes[0] = 33;
  codes[9] = 30;
  uint8_t packed[12];
  pack_scales_q3_K(codes, packed);
  EXPECT_EQ(std::memcmp(packed, kQ3Scales, 12), 0);
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    for (int& c : codes) c = static_cast<int>(rng() % 64);
    pack_scales_q3_K(codes, packed);
    for (int j = 0; j < 16; ++j) ASSERT_EQ(q3_K_scale(packed, j), codes[j]);
  }
}

TEST(GgmlQ3_K, DecodesHandWorkedBlock) {
  block_q3_K b{};
  b.d = 0x3C00;  // 1
  std::memcpy(b.scales, kQ3Scales, 12);
  b.qs[0] = 0x03;
  b.hmask[0] = 0x01;   // element 0: low 3, high bit set -> q = 3
  b.qs[32 + 22] = 0x01;
  b.hmask[22] = 0x10;  // element 128 + 22 = 150 (sub-block 9, hmask bit 4): q = 1
  std::vector<float> y(256);
  dequantize_row_q3_K(&b, y.data(), 256);
  EXPECT_EQ(y[0], 3.f);     // (33 − 32)·3
  EXPECT_EQ(y[1], -4.f);    // (33 − 32)·(0 − 4): no high bit
  EXPECT_EQ(y[150], -2.f);  // (30 − 32)·1
  EXPECT_EQ(y[151], 8.f);   // (30 − 32)·(−4)
  EXPECT_EQ(y[40], 0.f);    // scale 32 − 32 = 0
}

TEST(GgmlQ3_K, EncodesExactlyRepresentableBlock) {
  // x = e mod 8 − 4: every sub-block's make_q3_quants scale is 1, so the 6-bit codes are
  // nearest(−32·1/1) + 32 = 0 with d = f16(1/−32) = 0xA800; level x + 4 = e mod 8, high bit for ≥ 4.
  std::vector<float> x(256);
  for (int e = 0; e < 256; ++e) x[e] = static_cast<float>(e % 8 - 4);
  block_q3_K b{};
  quantize_row_q3_K_ref(x.data(), &b, 256);
  EXPECT_EQ(b.d, 0xA800);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(b.scales[i], 0) << i;
  for (int m = 0; m < 32; ++m) EXPECT_EQ(b.hmask[m], m % 8 >= 4 ? 0xFF : 0x00) << m;
  for (int i = 0; i < 64; ++i) EXPECT_EQ(b.qs[i], 0x55 * (i % 4)) << i;
  std::vector<float> y(256);
  dequantize_row_q3_K(&b, y.data(), 256);
  EXPECT_EQ(y, x);
}

// sc = {1,2,3,4,33,34,35,63}, m = {0,1,2,3,40,41,42,63}: Q4_K's hand-packed scales (test_ggml_q4_k).
constexpr uint8_t kK4Scales[12] = {0x81, 0x82, 0x83, 0xC4, 0x80, 0x81, 0x82, 0xC3, 0x81, 0x92, 0xA3, 0xFF};

TEST(GgmlQ5_K, DecodesHandWorkedBlock) {
  block_q5_K b{};
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  std::memcpy(b.scales, kK4Scales, 12);
  b.qs[0] = 0x5A;
  b.qh[0] = 0x03;  // elements 0 and 32 get the 5th bit
  b.qh[7] = 0x40;  // bit 6 = chunk 3 low nibble: element 192 + 7 = 199
  std::vector<float> y(256);
  dequantize_row_q5_K(&b, y.data(), 256);
  EXPECT_EQ(y[0], 26.f);     // 1·1·(10 + 16) − 0.5·0
  EXPECT_EQ(y[32], 41.5f);   // 1·2·(5 + 16) − 0.5·1
  EXPECT_EQ(y[199], 539.f);  // 35·16 − 0.5·42
  EXPECT_EQ(y[1], 0.f);      // q 0, m 0
  EXPECT_EQ(y[231], -31.5f); // q 0: −0.5·63
}

TEST(GgmlQ5_K, EncodesExactlyRepresentableBlock) {
  // Every sub-block is 0..31: scale 1, min 0, so sc = 63, m = 0, d = f16(1/63) = 0x2410, levels the values.
  std::vector<float> x(256);
  for (int e = 0; e < 256; ++e) x[e] = static_cast<float>(e % 32);
  block_q5_K b{};
  quantize_row_q5_K_ref(x.data(), &b, 256);
  EXPECT_EQ(b.d, 0x2410);
  EXPECT_EQ(b.dmin, 0x0000);
  const uint8_t scales[12] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};
  EXPECT_EQ(std::memcmp(b.scales, scales, 12), 0);
  for (int l = 0; l < 32; ++l) EXPECT_EQ(b.qh[l], l >= 16 ? 0xFF : 0x00) << l;
  for (int i = 0; i < 128; ++i) EXPECT_EQ(b.qs[i], 0x11 * (i % 16)) << i;
}

TEST(GgmlQ5_K, FastPathGivesTheReferenceBytes) {
  const int64_t k = 256 * 64;
  const std::vector<float> x = testing::gaussian_data(k, 5);
  std::vector<float> imp(k);
  std::mt19937 rng(9);
  for (float& v : imp) v = std::exp(std::normal_distribution<float>(0.f, 2.f)(rng));
  for (const float* importance : {static_cast<const float*>(nullptr), static_cast<const float*>(imp.data())}) {
    std::vector<block_q5_K> ref(k / 256), fast(k / 256);
    quantize_row_q5_K_ref(x.data(), ref.data(), k, importance);
    quantize_row_q5_K(x.data(), fast.data(), k, importance);
    EXPECT_TRUE(testing::same_bytes(ref, fast)) << (importance ? "with" : "without") << " importance";
  }
}

// More bits, less error: relative rmse on Gaussian rows, and each k-quant within its expected range.
TEST(GgmlKQuants, ErrorFallsWithBits) {
  const int64_t k = 256 * 32;
  const std::vector<float> x = testing::gaussian_data(k, 21);
  std::vector<float> y2(k), y3(k), y5(k);
  std::vector<block_q2_K> b2(k / 256);
  std::vector<block_q3_K> b3(k / 256);
  std::vector<block_q5_K> b5(k / 256);
  quantize_row_q2_K_ref(x.data(), b2.data(), k);
  quantize_row_q3_K_ref(x.data(), b3.data(), k);
  quantize_row_q5_K_ref(x.data(), b5.data(), k);
  dequantize_row_q2_K(b2.data(), y2.data(), k);
  dequantize_row_q3_K(b3.data(), y3.data(), k);
  dequantize_row_q5_K(b5.data(), y5.data(), k);
  const double s = testing::stddev(x);
  const double e2 = testing::rmse(x, y2) / s, e3 = testing::rmse(x, y3) / s, e5 = testing::rmse(x, y5) / s;
  std::printf("relative rmse: q2_K %.4f q3_K %.4f q5_K %.4f\n", e2, e3, e5);
  EXPECT_LT(e2, 0.45);
  EXPECT_LT(e3, 0.8 * e2);
  EXPECT_LT(e5, 0.4 * e3);
  EXPECT_GT(e5, 0.01);
}

TEST(GgmlKQuants, RejectPartialSuperBlocks) {
  std::vector<float> x(300);
  std::vector<block_q3_K> b(2);
  EXPECT_THROW(quantize_row_q3_K_ref(x.data(), b.data(), 300), std::invalid_argument);
  EXPECT_THROW(dequantize_row_q2_K(reinterpret_cast<block_q2_K*>(b.data()), x.data(), 300), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::fakequant::ggml
