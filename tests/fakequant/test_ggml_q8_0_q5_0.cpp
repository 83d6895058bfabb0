// Q8_0 and Q5_0 block codecs: hand-worked golden blocks, exact re-quantization, error bounds.
#include <gtest/gtest.h>

#include <cstring>

#include "fakequant/formats/ggml/q5_0.h"
#include "fakequant/formats/ggml/q8_0.h"
#include "tests/fakequant/ggml_test_util.h"

namespace qforge::fakequant::ggml {
namespace {

TEST(GgmlQ8_0, DecodesHandWorkedBlock) {
  block_q8_0 b{};
  b.d = 0x3000;  // f16 0.125
  const int8_t q[5] = {-128, 127, 1, -1, 0};
  std::memcpy(b.qs, q, sizeof(q));
  std::vector<float> y(32);
  dequantize_row_q8_0(&b, y.data(), 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[1], 15.875f);
  EXPECT_EQ(y[2], 0.125f);
  EXPECT_EQ(y[3], -0.125f);
  EXPECT_EQ(y[31], 0.0f);
}

TEST(GgmlQ8_0, EncodesHandWorkedBlock) {
  // amax 127 -> d = 1 (f16 0x3C00); q = round half away from zero.
  std::vector<float> x(32, 0.f);
  x[0] = 127.f; x[1] = -3.5f; x[2] = 2.5f; x[3] = 0.49f; x[4] = -126.6f;
  block_q8_0 b{};
  quantize_row_q8_0_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], -4);
  EXPECT_EQ(b.qs[2], 3);
  EXPECT_EQ(b.qs[3], 0);
  EXPECT_EQ(b.qs[4], -127);
  // An all-zero block stores d = 0 and q = 0.
  std::vector<float> zeros(32, 0.f);
  quantize_row_q8_0_ref(zeros.data(), &b, 32);
  EXPECT_EQ(b.d, 0);
  for (int8_t v : b.qs) EXPECT_EQ(v, 0);
}

TEST(GgmlQ5_0, DecodesHandWorkedBlockWithHighBits) {
  block_q5_0 b{};
  b.d = 0x3800;  // f16 0.5
  // qh = 0x80010001: high bits of elements 0, 16, 31 (little-endian u32).
  b.qh[0] = 0x01; b.qh[1] = 0x00; b.qh[2] = 0x01; b.qh[3] = 0x80;
  b.qs[0] = 0x3F;  // element 0: 0xF|16 = 31 -> 15·0.5; element 16: 3|16 = 19 -> 3·0.5
  std::vector<float> y(32);
  dequantize_row_q5_0(&b, y.data(), 32);
  EXPECT_EQ(y[0], 7.5f);
  EXPECT_EQ(y[16], 1.5f);
  EXPECT_EQ(y[15], -8.0f);  // level 0 -> (0 − 16)·0.5
  EXPECT_EQ(y[31], 0.0f);   // level 16 from the qh bit alone
  EXPECT_EQ(y[1], -8.0f);
}

TEST(GgmlQ5_0, EncodesHandWorkedBlock) {
  // max by magnitude is −16 (first), so d = −16/−16 = 1 and level = min(31, trunc(x + 16.5)).
  std::vector<float> x(32, 0.f);
  x[0] = -16.f; x[1] = 15.f; x[2] = 0.5f; x[3] = -0.5f; x[4] = 16.f; x[5] = -15.7f; x[16] = 1.f;
  block_q5_0 b{};
  quantize_row_q5_0_ref(x.data(), &b, 32);
  EXPECT_EQ(b.d, 0x3C00);
  // levels: e0 0, e1 31, e2 17, e3 16, e4 31 (clamped), e5 0, e16 17, all others 16.
  const uint8_t qh[4] = {0xDE, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(std::memcmp(b.qh, qh, 4), 0);
  const uint8_t qs[16] = {0x10, 0x0F, 0x01, 0x00, 0x0F, 0x00};
  EXPECT_EQ(std::memcmp(b.qs, qs, 16), 0);
}

TEST(GgmlQ5_0, RejectsPartialBlocks) {
  std::vector<float> x(40);
  std::vector<block_q5_0> b(2);
  try {
    quantize_row_q5_0_ref(x.data(), b.data(), 40);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("q5_0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("40"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row_q8_0(nullptr, x.data(), 33), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::fakequant::ggml
