// Q4_K: the 6-bit scale/min packing, a hand-worked decode and encode.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "fakequant/formats/ggml/q4_k.h"

namespace qforge::fakequant::ggml {
namespace {

// sc = {1,2,3,4,33,34,35,63}, m = {0,1,2,3,40,41,42,63} packed by hand (docs/gguf.md §6).
constexpr uint8_t kScales[12] = {0x81, 0x82, 0x83, 0xC4, 0x80, 0x81, 0x82, 0xC3, 0x81, 0x92, 0xA3, 0xFF};
constexpr uint8_t kSc[8] = {1, 2, 3, 4, 33, 34, 35, 63};
constexpr uint8_t kM[8] = {0, 1, 2, 3, 40, 41, 42, 63};

TEST(GgmlQ4_K, PacksSixBitScalesAsWorkedByHand) {
  uint8_t packed[12];
  pack_scales_mins_k4(kSc, kM, packed);
  EXPECT_EQ(std::memcmp(packed, kScales, 12), 0);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, kScales, &sc, &m);
    EXPECT_EQ(sc, kSc[j]) << j;
    EXPECT_EQ(m, kM[j]) << j;
  }
}

TEST(GgmlQ4_K, SixBitPackingRoundTripsAllValues) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 1000; ++trial) {
    uint8_t sc[8], m[8], packed[12];
    for (int j = 0; j < 8; ++j) { sc[j] = rng() % 64; m[j] = rng() % 64; }
    pack_scales_mins_k4(sc, m, packed);
    for (int j = 0; j < 8; ++j) {
      uint8_t s2, m2;
      get_scale_min_k4(j, packed, &s2, &m2);
      ASSERT_EQ(s2, sc[j]);
      ASSERT_EQ(m2, m[j]);
    }
  }
}

TEST(GgmlQ4_K, DecodesHandWorkedBlock) {
  block_q4_K b{};
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  std::memcpy(b.scales, kScales, 12);
  b.qs[0] = 0x5A;        // element 0 (sub 0) q 10; element 32 (sub 1) q 5
  b.qs[64 + 1] = 0x21;   // element 129 (sub 4) q 1; element 161 (sub 5) q 2
  b.qs[96 + 7] = 0xF3;   // element 199 (sub 6) q 3; element 231 (sub 7) q 15
  std::vector<float> y(256);
  dequantize_row_q4_K(&b, y.data(), 256);
  EXPECT_EQ(y[0], 10.f);     // 1·1·10 − 0.5·0
  EXPECT_EQ(y[32], 9.5f);    // 1·2·5 − 0.5·1
  EXPECT_EQ(y[129], 13.f);   // 33·1 − 0.5·40
  EXPECT_EQ(y[161], 47.5f);  // 34·2 − 0.5·41
  EXPECT_EQ(y[199], 84.f);   // 35·3 − 0.5·42
  EXPECT_EQ(y[231], 913.5f); // 63·15 − 0.5·63
  // q = 0 elsewhere: −dmin·m_j per sub-block.
  const float expect_zero_q[8] = {0.f, -0.5f, -1.f, -1.5f, -20.f, -20.5f, -21.f, -31.5f};
  for (int e = 0; e < 256; ++e) {
    if (e == 0 || e == 32 || e == 129 || e == 161 || e == 199 || e == 231) continue;
    EXPECT_EQ(y[e], expect_zero_q[e / 32]) << e;
  }
}

TEST(GgmlQ4_K, EncodesExactlyRepresentableBlock) {
  // Every sub-block is 0..15 twice: min 0, scale 1 fits with zero error, so all sub-block scales are
  // equal: sc = 63, m = 0, d = f16(1/63) = 0x2410, dmin = 0, and the levels are the values.
  std::vector<float> x(256);
  for (int e = 0; e < 256; ++e) x[e] = static_cast<float>(e % 16);
  block_q4_K b{};
  quantize_row_q4_K_ref(x.data(), &b, 256);
  EXPECT_EQ(b.d, 0x2410);
  EXPECT_EQ(b.dmin, 0x0000);
  const uint8_t scales[12] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};
  EXPECT_EQ(std::memcmp(b.scales, scales, 12), 0);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) EXPECT_EQ(b.qs[32 * c + l], 0x11 * (l % 16)) << c << " " << l;
  }
  std::vector<float> y(256);
  dequantize_row_q4_K(&b, y.data(), 256);
  EXPECT_EQ(y[15], 0.015869140625f * 63 * 15);
}

TEST(GgmlQ4_K, RejectsPartialSuperBlocks) {
  std::vector<float> x(300);
  std::vector<block_q4_K> b(2);
  try {
    quantize_row_q4_K_ref(x.data(), b.data(), 300);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("q4_K"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qforge::fakequant::ggml
