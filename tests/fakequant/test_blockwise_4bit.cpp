// Blockwise NF4 / FP4 with double quantization (fakequant/formats/blockwise_4bit.h): hand-worked
// codes and nibble order, tails, zeros, non-finite input, the exact storage cost, the fast decoder
// against the reference, and the QLoRA paper's error ordering on N(0, 1) weights (Dettmers et al.
// 2023, §3 / Table 2: NF4 beats FP4 and Int4).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "fakequant/formats/blockwise_4bit.h"
#include "fakequant/formats/dynamic_map.h"
#include "fakequant/formats/nf4.h"

namespace qforge::fakequant {
namespace {

const std::vector<float> kSmall = {1.0f, -0.5f, 0.25f, 0.0f, -2.0f, 0.1f, 0.7f, -0.09f};

Blockwise4BitOptions plain(int64_t block) { return {block, false, 256}; }

std::vector<float> normal_values(int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<float> dequantize_all(const Blockwise4Bit& q) {
  std::vector<float> out(static_cast<size_t>(q.numel));
  dequantize_blockwise_4bit(q, 0, q.numel, out.data());
  return out;
}

double mse(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  return s / static_cast<double>(a.size());
}

// Symmetric absmax int4 with levels -7..7 (scale absmax / 7, round half away from zero): the "Int4"
// baseline, block size 64, FP32 scale per block.
std::vector<float> int4_absmax(const std::vector<float>& x, int64_t block) {
  std::vector<float> y(x.size());
  for (size_t b = 0; b < x.size(); b += static_cast<size_t>(block)) {
    const size_t e = std::min(x.size(), b + static_cast<size_t>(block));
    float amax = 0;
    for (size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float scale = amax / 7.0f;
    for (size_t i = b; i < e; ++i) y[i] = scale > 0 ? std::round(x[i] / scale) * scale : 0.0f;
  }
  return y;
}

TEST(DynamicMap, MatchesBitsandbytesSpotValues) {
  const auto& m = dynamic_map();
  EXPECT_EQ(m[0], -0x1.fc6666p-1f);  // -(0.9859375 + 1) / 2, the largest mean of the last exponent
  EXPECT_EQ(m[127], 0.0f);
  EXPECT_EQ(m[128], 0x1.27476ep-21f);  // 1e-6 * 0.55
  EXPECT_EQ(m[255], 1.0f);
  for (int i = 1; i < 256; ++i) EXPECT_LT(m[i - 1], m[i]) << i;
  EXPECT_EQ(encode_dynamic(0.0f), 127);
  EXPECT_EQ(encode_dynamic(1.0f), 255);
  EXPECT_EQ(encode_dynamic(-1.0f), 0);
  EXPECT_EQ(encode_dynamic(m[200]), 200);
}

TEST(Blockwise4Bit, Nf4GoldenBlockAndNibbleOrder) {
  // absmax 2; x / 2 = 0.5, -0.25, 0.125, 0, -1, 0.05, 0.35, -0.045 -> nearest NF4 codes
  // 12, 4, 9, 7, 0, 8, 11, 7 (e.g. 0.5 < 0.5017, the midpoint of codes 12 and 13 -> 12;
  // -0.045 > midpoint -0.0455 of codes 6/7 -> 7). Element 2i is the high nibble.
  const Blockwise4Bit q = quantize_blockwise_4bit(kSmall.data(), 8, FourBitType::kNf4, plain(8));
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{0xC4, 0x97, 0x08, 0xB7}));
  EXPECT_EQ(q.absmax, std::vector<float>{2.0f});
  const std::vector<float> y = dequantize_all(q);
  EXPECT_EQ(y[0], kNf4Values[12] * 2.0f);
  EXPECT_EQ(y[1], kNf4Values[4] * 2.0f);
  EXPECT_EQ(y[4], -2.0f);
  EXPECT_EQ(y[7], 0.0f);
  EXPECT_EQ(q.storage_bytes(), 4 + 4);
}

TEST(Blockwise4Bit, Fp4GoldenBlock) {
  // x / 2 * 6 = 3, -1.5, 0.75, 0, -6, 0.3, 2.1, -0.27 -> E2M1 codes 5, 11, 2 (tie 0.5|1 to even), 0,
  // 15, 1, 4, 9.
  const Blockwise4Bit q = quantize_blockwise_4bit(kSmall.data(), 8, FourBitType::kFp4, plain(8));
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{0x5B, 0x20, 0xF1, 0x49}));
  const std::vector<float> y = dequantize_all(q);
  EXPECT_EQ(y[0], 1.0f);  // 3/6 * 2
  EXPECT_EQ(y[1], -0.5f);
  EXPECT_EQ(y[4], -2.0f);
  EXPECT_FLOAT_EQ(y[5], 0.5f / 6.0f * 2.0f);
}

TEST(Blockwise4Bit, TailsOddCountsAndZeroBlocks) {
  std::vector<float> x = normal_values(67, 5);  // one full block of 64, a tail of 3, odd count
  for (int i = 0; i < 3; ++i) x[64 + i] = 0.25f * static_cast<float>(i - 1);
  const Blockwise4Bit q = quantize_blockwise_4bit(x.data(), 67, FourBitType::kNf4, plain(64));
  ASSERT_EQ(q.codes.size(), 34u);
  EXPECT_EQ(q.codes[33] & 15, 0);       // the missing 68th element
  EXPECT_EQ(q.absmax[1], 0.25f);        // tail absmax over its 3 values only
  const std::vector<float> y = dequantize_all(q);
  EXPECT_EQ(y[64], -0.25f);
  EXPECT_EQ(y[65], 0.0f);
  EXPECT_EQ(y[66], 0.25f);
  const std::vector<float> zeros(300, 0.0f);
  for (bool dq : {false, true}) {
    for (FourBitType t : {FourBitType::kNf4, FourBitType::kFp4}) {
      const Blockwise4Bit z = quantize_blockwise_4bit(zeros.data(), 300, t, {64, dq, 256});
      for (float v : dequantize_all(z)) ASSERT_EQ(v, 0.0f);
    }
  }
}

TEST(Blockwise4Bit, RejectsNonFiniteNamingTheTensor) {
  std::vector<float> x(100, 1.0f);
  x[70] = std::numeric_limits<float>::quiet_NaN();
  try {
    quantize_blockwise_4bit(x.data(), 100, FourBitType::kNf4, {}, "blk.3.ffn_up.weight");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("blk.3.ffn_up.weight element 70 is NaN"), std::string::npos) << e.what();
  }
  x[70] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(quantize_blockwise_4bit(x.data(), 100, FourBitType::kFp4), std::invalid_argument);
  EXPECT_THROW(quantize_blockwise_4bit(x.data(), 10, FourBitType::kFp4, plain(63)), std::invalid_argument);
}

TEST(Blockwise4Bit, StorageIs4Point127BitsWithDoubleQuantization) {
  const int64_t n = 1 << 20;
  const std::vector<float> x = normal_values(n, 7);
  const Blockwise4Bit dq = quantize_blockwise_4bit(x.data(), n, FourBitType::kNf4);
  // codes n/2 + one uint8 absmax code per 64 + one FP32 nested absmax per 256 blocks + the offset.
  EXPECT_EQ(dq.storage_bytes(), n / 2 + n / 64 + n / 64 / 256 * 4 + 4);
  const double bits = 8.0 * static_cast<double>(dq.storage_bytes()) / static_cast<double>(n);
  EXPECT_NEAR(bits, 4.127, 0.0005);
  const Blockwise4Bit single = quantize_blockwise_4bit(x.data(), n, FourBitType::kNf4, plain(64));
  EXPECT_EQ(single.storage_bytes(), n / 2 + n / 64 * 4);  // 4.5 bits
  std::printf("storage bits/param: double-quantized %.5f, single %.5f\n", bits,
              8.0 * static_cast<double>(single.storage_bytes()) / static_cast<double>(n));
}

TEST(Blockwise4Bit, FastDecoderMatchesReferenceBitForBit) {
  const std::vector<float> x = normal_values(5000, 9);
  for (bool dq : {false, true}) {
    for (FourBitType t : {FourBitType::kNf4, FourBitType::kFp4}) {
      const Blockwise4Bit q = quantize_blockwise_4bit(x.data(), 5000, t, {64, dq, 4});
      for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 5000}, {37, 4001}, {129, 130}, {64, 192}}) {
        std::vector<float> fast(static_cast<size_t>(e - b)), ref(fast.size());
        dequantize_blockwise_4bit(q, b, e, fast.data());
        dequantize_blockwise_4bit_reference(q, b, e, ref.data());
        ASSERT_EQ(std::memcmp(fast.data(), ref.data(), fast.size() * 4), 0) << b << ".." << e;
      }
    }
  }
}

TEST(Blockwise4Bit, Nf4HasTheLowestErrorOnNormalWeights) {
  const int64_t n = 1 << 20;
  const std::vector<float> x = normal_values(n, 2023);
  double err[2][2];
  for (int t = 0; t < 2; ++t) {
    for (int dq = 0; dq < 2; ++dq) {
      const auto type = t == 0 ? FourBitType::kNf4 : FourBitType::kFp4;
      err[t][dq] = mse(x, dequantize_all(quantize_blockwise_4bit(x.data(), n, type, {64, dq == 1, 256})));
    }
  }
  const double int4 = mse(x, int4_absmax(x, 64));
  std::printf("MSE on N(0,1), 2^20 values, block 64: nf4 %.6f (dq %.6f), fp4 e2m1 %.6f (dq %.6f), "
              "int4 absmax -7..7 %.6f\n", err[0][0], err[0][1], err[1][0], err[1][1], int4);
  EXPECT_LT(err[0][0], err[1][0]);
  EXPECT_LT(err[0][0], int4);
  EXPECT_LT(err[0][1], err[1][1]);
  EXPECT_LT(err[0][1], int4);
  // Double quantization costs almost nothing (QLoRA §3: no degradation).
  EXPECT_LT(err[0][1], err[0][0] * 1.01);
  EXPECT_LT(err[1][1], err[1][0] * 1.01);
}

}  // namespace
}  // namespace qforge::fakequant
