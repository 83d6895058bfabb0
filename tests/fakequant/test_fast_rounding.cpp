// The vectorizable rounders of fakequant/kernels/fast_rounding.h against the scalar reference
// (value_grid.h's round_to_format over the codecs in fakequant/formats/), bit for bit:
//   - a strided sweep over all 2^32 float bit patterns (every 509th pattern, both signs, NaNs, infs,
//     float32 subnormals included),
//   - both float neighbours of, and the float nearest to, every rounding boundary (the midpoint of
//     each pair of adjacent representable values, for every format including all 15 NF4 midpoints
//     and all 65535 gaps of FP16 / BF16), where round-to-nearest-even and tie rules decide.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <vector>

#include "fakequant/formats/fp4.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "fakequant/formats/minifloat.h"
#include "fakequant/formats/nf4.h"
#include "fakequant/kernels/fast_rounding.h"
#include "fakequant/value_grid.h"

namespace qforge::testing {
namespace {

using namespace qforge::fakequant;

// Every finite non-negative value of the format, sorted.
std::vector<float> representable_values(ElementFormat format) {
  std::set<float> values;
  switch (format) {
    case ElementFormat::kFp8E4M3:
      for (int c = 0; c < 256; ++c) values.insert(decode_e4m3(static_cast<uint8_t>(c)));
      break;
    case ElementFormat::kFp8E5M2:
      for (int c = 0; c < 256; ++c) values.insert(decode_e5m2(static_cast<uint8_t>(c)));
      break;
    case ElementFormat::kFp4E2M1:
      for (int c = 0; c < 16; ++c) values.insert(decode_e2m1(static_cast<uint8_t>(c)));
      break;
    case ElementFormat::kNf4:
      for (float v : kNf4Values) values.insert(v);
      break;
    case ElementFormat::kFp16:
      for (int c = 0; c < 65536; ++c) values.insert(decode_fp16(static_cast<uint16_t>(c)));
      break;
    case ElementFormat::kBf16:
      for (int c = 0; c < 65536; ++c) values.insert(decode_bf16(static_cast<uint16_t>(c)));
      break;
    case ElementFormat::kInt: break;
  }
  std::vector<float> finite;
  for (float v : values) {
    if (std::isfinite(v) && (format == ElementFormat::kNf4 || v >= 0.0f)) finite.push_back(v);
  }
  return finite;
}

// Inputs around every boundary between adjacent representable values: the float nearest to the
// exact midpoint and its two neighbours, with both signs.
std::vector<float> boundary_inputs(ElementFormat format) {
  const std::vector<float> values = representable_values(format);
  std::vector<float> inputs;
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    const float mid = static_cast<float>((static_cast<double>(values[i]) + values[i + 1]) / 2.0);
    for (float v : {mid, std::nextafter(mid, -INFINITY), std::nextafter(mid, INFINITY), values[i]}) {
      inputs.push_back(v);
      inputs.push_back(-v);
    }
  }
  // Beyond the largest value (saturation) and the special values.
  const float top = values.back();
  for (float v : {top, std::nextafter(top, INFINITY), top * 1.03125f, top * 1.0625f, top * 2.0f, 1e30f,
                  std::numeric_limits<float>::max(), INFINITY, std::numeric_limits<float>::denorm_min(),
                  std::numeric_limits<float>::min(), std::nextafter(std::numeric_limits<float>::min(), 0.0f), 0.0f,
                  std::numeric_limits<float>::quiet_NaN()}) {
    inputs.push_back(v);
    inputs.push_back(-v);
  }
  return inputs;
}

template <class Rounding>
void expect_same_as_reference(ElementFormat format, const Rounding& fast, const char* name) {
  int64_t checked = 0, mismatches = 0;
  auto check = [&](float v) {
    const uint32_t expected = std::bit_cast<uint32_t>(round_to_format(format, v));
    const uint32_t actual = std::bit_cast<uint32_t>(fast(v));
    ++checked;
    if (expected != actual && ++mismatches <= 5) {
      ADD_FAILURE() << name << ": v=" << v << " (0x" << std::hex << std::bit_cast<uint32_t>(v) << ") reference 0x"
                    << expected << " fast 0x" << actual << std::dec;
    }
  };
  const std::vector<float> boundaries = boundary_inputs(format);
  for (float v : boundaries) check(v);
  constexpr uint64_t kStride = 509;  // prime: visits every exponent and mantissa residue class
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += kStride) check(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  std::printf("%-9s %lld inputs (%zu at rounding boundaries), %lld mismatches\n", name, static_cast<long long>(checked),
              boundaries.size(), static_cast<long long>(mismatches));
  EXPECT_EQ(mismatches, 0);
}

TEST(FastRounding, E4m3MatchesCodec) {
  expect_same_as_reference(ElementFormat::kFp8E4M3, kernels::E4m3Rounding{448.0f}, "fp8_e4m3");
}

TEST(FastRounding, E5m2MatchesCodec) {
  expect_same_as_reference(ElementFormat::kFp8E5M2, kernels::E5m2Rounding{57344.0f}, "fp8_e5m2");
}

TEST(FastRounding, E2m1MatchesCodec) {
  expect_same_as_reference(ElementFormat::kFp4E2M1, kernels::E2m1Rounding{kE2m1Max}, "fp4_e2m1");
}

TEST(FastRounding, Fp16MatchesCodec) {
  expect_same_as_reference(ElementFormat::kFp16, kernels::Fp16Rounding{65504.0f}, "fp16");
}

TEST(FastRounding, Bf16MatchesCodec) { expect_same_as_reference(ElementFormat::kBf16, kernels::Bf16Rounding{}, "bf16"); }

TEST(FastRounding, Nf4MatchesCodec) {
  expect_same_as_reference(ElementFormat::kNf4, kernels::Nf4Rounding::make(), "nf4");
}

// The thresholds themselves: every midpoint of adjacent NF4 values lies in (above[i], next float].
TEST(FastRounding, Nf4ThresholdsBracketTheMidpoints) {
  const auto rounding = kernels::Nf4Rounding::make();
  for (size_t i = 0; i < rounding.above.size(); ++i) {
    const double midpoint = (static_cast<double>(kNf4Values[i]) + kNf4Values[i + 1]) / 2.0;
    EXPECT_LE(static_cast<double>(rounding.above[i]), midpoint) << i;
    EXPECT_GT(static_cast<double>(std::nextafter(rounding.above[i], 2.0f)), midpoint) << i;
  }
}

// Each clip threshold is the last float that rounds (without saturation) to at most the format's
// max; the next float overflows. Checked with the non-saturating codecs and the shared RNE core.
TEST(FastRounding, ClipThresholdsAreTheSaturationPoints) {
  auto next = [](float v) { return std::nextafter(v, INFINITY); };
  EXPECT_FALSE(std::isnan(decode_e4m3(encode_e4m3(kernels::kE4m3Clip, Fp8Mode::kNonSaturating))));
  EXPECT_TRUE(std::isnan(decode_e4m3(encode_e4m3(next(kernels::kE4m3Clip), Fp8Mode::kNonSaturating))));
  EXPECT_FALSE(std::isinf(decode_e5m2(encode_e5m2(kernels::kE5m2Clip, Fp8Mode::kNonSaturating))));
  EXPECT_TRUE(std::isinf(decode_e5m2(encode_e5m2(next(kernels::kE5m2Clip), Fp8Mode::kNonSaturating))));
  EXPECT_LE(detail::round_magnitude_rne(kernels::kE2m1Clip, 1, 1), 7u);  // 0x7 = 6, the largest E2M1 code
  EXPECT_GT(detail::round_magnitude_rne(next(kernels::kE2m1Clip), 1, 1), 7u);
  EXPECT_FALSE(std::isinf(round_to_fp16(kernels::kFp16Clip)));
  EXPECT_TRUE(std::isinf(round_to_fp16(next(kernels::kFp16Clip))));
  EXPECT_FALSE(std::isinf(round_to_bf16(kernels::kBf16Clip)));
  EXPECT_TRUE(std::isinf(round_to_bf16(next(kernels::kBf16Clip))));
  // NF4: halfway between 1 and the mirror image of the value below it.
  EXPECT_NEAR(kernels::kNf4Clip, 1.0 + (1.0 - kNf4Values[14]) / 2.0, 1e-7);
}

// The integer grid: clamp(nearbyint(v), lo, hi) with NaN -> 0 and no -0, as quantize_value +
// dequantize_value give for zero point 0.
TEST(FastRounding, IntGridMatchesQuantizeValue) {
  int64_t mismatches = 0;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 4093) {
    const float v = std::bit_cast<float>(static_cast<uint32_t>(bits));
    for (auto [qmin, qmax] : {std::pair{-8, 7}, std::pair{-128, 127}, std::pair{0, 15}}) {
      const float expected = dequantize_value(quantize_value(v, 1.0f, 0, qmin, qmax), 1.0f, 0);
      const float actual = kernels::IntRounding::clamp_code(std::nearbyint(v), v, static_cast<float>(qmin),
                                                            static_cast<float>(qmax));
      mismatches += std::bit_cast<uint32_t>(expected) != std::bit_cast<uint32_t>(actual);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
}  // namespace qforge::testing
