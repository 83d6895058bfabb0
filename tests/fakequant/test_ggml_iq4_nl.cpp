// IQ4_NL: the non-linear table, nearest-index rule, hand-worked decode and encode.
#include <gtest/gtest.h>

#include <cstring>

#include "fakequant/formats/ggml/iq4_nl.h"

namespace qforge::fakequant::ggml {
namespace {

TEST(GgmlIQ4_NL, NearestIndexTiesGoUp) {
  EXPECT_EQ(best_index_iq4nl(-1000.f), 0);
  EXPECT_EQ(best_index_iq4nl(1000.f), 15);
  EXPECT_EQ(best_index_iq4nl(0.f), 8);       // between −10 and 1, nearer 1
  EXPECT_EQ(best_index_iq4nl(-4.5f), 8);     // exact midpoint of −10 and 1 -> upper
  EXPECT_EQ(best_index_iq4nl(-4.51f), 7);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(best_index_iq4nl(kValuesIQ4NL[i]), i);
}

TEST(GgmlIQ4_NL, DecodesHandWorkedBlock) {
  block_iq4_nl b{};
  b.d = 0x4000;  // 2.0
  b.qs[0] = 0xF0;
  b.qs[5] = 0x97;
  std::vector<float> y(32);
  dequantize_row_iq4_nl(&b, y.data(), 32);
  EXPECT_EQ(y[0], -254.f);  // 2·K[0]
  EXPECT_EQ(y[16], 226.f);  // 2·K[15]
  EXPECT_EQ(y[5], -20.f);   // 2·K[7]
  EXPECT_EQ(y[21], 26.f);   // 2·K[9]
  EXPECT_EQ(y[1], -254.f);
}

TEST(GgmlIQ4_NL, EncodesTableValuesWithUnitScale) {
  // x = the table twice: d = 1 reproduces it exactly, the best possible weighted fit.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = kValuesIQ4NL[j % 16];
  block_iq4_nl b{};
  quantize_row_iq4_nl_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], 0x11 * j) << j;
  // An all-zero block: d = 0 and every index is 8 (the level nearest 0), as llama.cpp writes it.
  std::vector<float> zeros(32, 0.f);
  quantize_row_iq4_nl_ref(zeros.data(), &b, 32);
  EXPECT_EQ(b.d, 0);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], 0x88) << j;
}

}  // namespace
}  // namespace qforge::fakequant::ggml
