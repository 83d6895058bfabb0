// Q6_K: hand-worked decode (ql nibbles, qh 2-bit fields, int8 scales) and encode.
#include <gtest/gtest.h>

#include <cstring>

#include "fakequant/formats/ggml/q6_k.h"

namespace qforge::fakequant::ggml {
namespace {

TEST(GgmlQ6_K, DecodesHandWorkedBlock) {
  block_q6_K b{};
  b.d = 0x3400;  // 0.25
  b.ql[0] = 0x21;   // element 0 low 1, element 64 low 2
  b.ql[32] = 0x7F;  // element 32 low 15, element 96 low 7
  b.qh[0] = 0xE4;   // 2-bit fields (k = 0..3): 0, 1, 2, 3
  b.ql[72] = 0xA0;  // half 1, l = 8: element 128 + 64 + 8 = 200 takes the high nibble 10
  b.qh[40] = 0x30;  // its high bits (k = 2): 3 -> q6 = 58
  b.scales[0] = -3; b.scales[1] = 1; b.scales[2] = 5; b.scales[4] = 127; b.scales[6] = -128;
  b.scales[12] = 2;
  std::vector<float> y(256);
  dequantize_row_q6_K(&b, y.data(), 256);
  EXPECT_EQ(y[0], 23.25f);    // 0.25·(−3)·(1 − 32)
  EXPECT_EQ(y[32], -1.25f);   // 0.25·5·(31 − 32)
  EXPECT_EQ(y[64], 63.5f);    // 0.25·127·(34 − 32)
  EXPECT_EQ(y[96], -736.f);   // 0.25·(−128)·(55 − 32)
  EXPECT_EQ(y[200], 13.f);    // 0.25·2·(58 − 32)
  EXPECT_EQ(y[1], 24.f);      // 0.25·(−3)·(0 − 32)
  EXPECT_EQ(y[16], -8.f);     // 0.25·1·(−32)
  EXPECT_EQ(y[201], -16.f);   // 0.25·2·(−32)
  EXPECT_EQ(y[255], 0.f);     // scale 0
}

TEST(GgmlQ6_K, EncodesSingleSpikeBlock) {
  // Only x[0] = −32: sub-block 0 gets scale 1 (level −32), the others are all-zero groups.
  // d = max_scale/−128 = −1/128 (f16 0xA000), scales[0] = −128, levels: e0 0, e1..15 32, rest 0.
  std::vector<float> x(256, 0.f);
  x[0] = -32.f;
  block_q6_K b{};
  quantize_row_q6_K_ref(x.data(), &b, 256);
  EXPECT_EQ(b.d, 0xA000);
  EXPECT_EQ(b.scales[0], -128);
  for (int j = 1; j < 16; ++j) EXPECT_EQ(b.scales[j], 0) << j;
  for (int l = 0; l < 128; ++l) EXPECT_EQ(b.ql[l], 0) << l;
  EXPECT_EQ(b.qh[0], 0);
  for (int l = 1; l < 16; ++l) EXPECT_EQ(b.qh[l], 0x02) << l;
  for (int l = 16; l < 64; ++l) EXPECT_EQ(b.qh[l], 0) << l;
  std::vector<float> y(256);
  dequantize_row_q6_K(&b, y.data(), 256);
  EXPECT_EQ(y[0], -32.f);
  EXPECT_EQ(y[1], 0.f);
}

TEST(GgmlQ6_K, AllZeroBlockIsAllZeroBytes) {
  std::vector<float> x(512, 0.f);
  std::vector<block_q6_K> b(2);
  std::memset(b.data(), 0xAB, sizeof(block_q6_K) * 2);
  quantize_row_q6_K_ref(x.data(), b.data(), 512);
  const auto* bytes = reinterpret_cast<const uint8_t*>(b.data());
  for (size_t i = 0; i < sizeof(block_q6_K) * 2; ++i) ASSERT_EQ(bytes[i], 0) << i;
}

}  // namespace
}  // namespace qforge::fakequant::ggml
