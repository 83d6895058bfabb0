// round_to_fp16 / round_to_bf16 against PyTorch's Tensor.half() and Tensor.bfloat16() (both RNE) on
// random float32 bit patterns plus values over fp16's binades (all binades, f32 subnormals, ±inf; NaN excluded), bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "fakequant/formats/half.h"
#include "tests/support/torch_runner.h"

namespace qforge::fakequant {
namespace {

TEST(TorchHalfParity, RandomFloatsMatchBitForBit) {
  std::mt19937 rng(11);
  std::vector<float> inputs;
  while (inputs.size() < 100000) {
    const float x = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (!std::isnan(x)) inputs.push_back(x);
  }
  // Random bits mostly land outside fp16's range; add values spread over its binades (2^-26..2^17).
  std::uniform_real_distribution<float> log2_magnitude(-26.0f, 17.0f);
  for (int i = 0; i < 50000; ++i) inputs.push_back(std::exp2(log2_magnitude(rng)) * (i % 2 ? -1.0f : 1.0f));
  // Add the exact edges: fp16 overflow tie, bf16 rounding into inf, subnormal ties.
  for (uint32_t bits : {0x477FF000u, 0x477FEFFFu, 0x7F7FFFFFu, 0x7F7F7FFFu, 0x33000000u, 0x00018000u,
                        0x7F800000u, 0xFF800000u}) {
    inputs.push_back(std::bit_cast<float>(bits));
  }
  testing::TensorFile request;
  request.put("x", {static_cast<int64_t>(inputs.size())}, std::vector<double>(inputs.begin(), inputs.end()));
  const testing::TensorFile answer =
      testing::run_torch_script("tests/fakequant/torch_half_reference.py", request, "fakequant_half");
  const auto& fp16 = answer.tensor("fp16").values;
  const auto& bf16 = answer.tensor("bf16").values;
  ASSERT_EQ(fp16.size(), inputs.size());
  ASSERT_EQ(bf16.size(), inputs.size());
  int fp16_mismatches = 0, bf16_mismatches = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto torch_fp16 = static_cast<float>(fp16[i]), torch_bf16 = static_cast<float>(bf16[i]);
    fp16_mismatches += std::bit_cast<uint32_t>(round_to_fp16(inputs[i])) != std::bit_cast<uint32_t>(torch_fp16);
    bf16_mismatches += std::bit_cast<uint32_t>(round_to_bf16(inputs[i])) != std::bit_cast<uint32_t>(torch_bf16);
  }
  std::printf("torch parity on %zu floats: fp16 mismatches %d, bf16 mismatches %d\n", inputs.size(),
              fp16_mismatches, bf16_mismatches);
  EXPECT_EQ(fp16_mismatches, 0);
  EXPECT_EQ(bf16_mismatches, 0);
}

}  // namespace
}  // namespace qforge::fakequant
