// The vectorized decoders (dequantize_row_<type>, fakequant/formats/ggml/decode_avx512.h) give the scalar
// references' floats (dequantize_row_<type>_ref, llama.cpp's dequantize_row_* operation by operation) bit for
// bit, for the types a Q4_K_M, Q3_K_M or IQ2_XS file gives decoder projections (Q4_K, Q6_K, Q5_K, Q3_K,
// Q2_K, IQ2_XS; llama-quant.cpp llama_tensor_get_type_impl). Two kinds of input: blocks of random bytes whose
// f16 scales are drawn from the edges of the finite range (±0, the smallest subnormal, ±65504, random finite
// codes), so every code, sign and scale path is hit, including −0.0 products; and blocks the encoders write
// for Gaussian rows. Compared as bits (memcmp), so −0.0 against +0.0 fails. Without AVX512F + AVX512BW the
// fast decoders are the references themselves and every test skips saying so (registered with
// SKIP_REGULAR_EXPRESSION, tests/CMakeLists.txt, as test_ggml_fast_paths).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/formats/ggml/iq2_xs.h"
#include "fakequant/formats/ggml/q2_k.h"
#include "fakequant/formats/ggml/q3_k.h"
#include "fakequant/formats/ggml/q4_k.h"
#include "fakequant/formats/ggml/q5_k.h"
#include "fakequant/formats/ggml/q6_k.h"
#include "tests/fakequant/ggml_test_util.h"

namespace qforge::fakequant::ggml {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__)
constexpr bool kFastDecodeCompiled = true;
#else
constexpr bool kFastDecodeCompiled = false;
#endif
constexpr const char* kNoFastDecode =
    "built without AVX512F + AVX512BW (QFORGE_NATIVE=OFF, or a CPU without them): the fast decoders are not "
    "compiled and dequantize_row_* is the *_ref decoder itself";

constexpr int64_t kBlocks = 4000;  // 1.02M elements per type and kind of input

// A finite f16 code from the edges of the range, or any finite code.
uint16_t edge_f16(std::mt19937& rng) {
  static const uint16_t kEdges[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x7BFF, 0xFBFF, 0x3C00, 0xBC00};
  const uint32_t pick = rng() % 16;
  if (pick < std::size(kEdges)) return kEdges[pick];
  uint16_t code;
  do code = static_cast<uint16_t>(rng()); while ((code & 0x7C00) == 0x7C00);  // exponent 31: inf/NaN
  return code;
}

// Random bytes, with each f16 field (given by its offset in the block) replaced by edge_f16.
template <typename Block>
std::vector<Block> random_blocks(std::initializer_list<size_t> f16_offsets, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Block> blocks(kBlocks);
  auto* bytes = reinterpret_cast<uint8_t*>(blocks.data());
  for (size_t i = 0; i < blocks.size() * sizeof(Block); ++i) bytes[i] = static_cast<uint8_t>(rng());
  for (Block& b : blocks) {
    for (size_t offset : f16_offsets) {
      const uint16_t code = edge_f16(rng);
      std::memcpy(reinterpret_cast<uint8_t*>(&b) + offset, &code, 2);
    }
  }
  return blocks;
}

// Blocks the encoder writes for Gaussian rows at scales from 1e-6 to 1e4, with importance when needed.
template <typename Block>
std::vector<Block> encoded_blocks(const char* type_name, uint32_t seed) {
  const BlockType& type = block_type(type_name);
  std::vector<float> x = testing::gaussian_data(kBlocks * 256, seed);
  for (int64_t b = 0; b < kBlocks; ++b)
    for (int j = 0; j < 256; ++j) x[b * 256 + j] *= std::pow(10.f, static_cast<float>(b % 11) - 6);
  const std::vector<float> ones(256, 1.0f);
  std::vector<Block> blocks(kBlocks);
  for (int64_t b = 0; b < kBlocks; ++b)
    type.quantize_row(x.data() + b * 256, &blocks[b], 256, type.needs_importance ? ones.data() : nullptr);
  return blocks;
}

struct Counts {
  int64_t differing = 0, negative_zero = 0, nonzero = 0;
};

// Decodes all blocks with both functions (one call: rows of many blocks, as PackedGgmlWeight decodes a
// tile) and through the type table, and counts the elements whose bits differ from the reference.
template <typename Block>
Counts compare(void (*ref)(const Block*, float*, int64_t), void (*fast)(const Block*, float*, int64_t),
               const char* type_name, const std::vector<Block>& blocks) {
  const int64_t n = static_cast<int64_t>(blocks.size()) * 256;
  std::vector<float> want(n), got(n), table(n);
  ref(blocks.data(), want.data(), n);
  fast(blocks.data(), got.data(), n);
  block_type(type_name).dequantize_row(blocks.data(), table.data(), n);
  Counts c;
  for (int64_t i = 0; i < n; ++i) {
    c.differing += std::memcmp(&want[i], &got[i], 4) != 0 || std::memcmp(&want[i], &table[i], 4) != 0;
    c.negative_zero += want[i] == 0.0f && std::signbit(want[i]);
    c.nonzero += want[i] != 0.0f;
  }
  return c;
}

template <typename Block>
void check_type(void (*ref)(const Block*, float*, int64_t), void (*fast)(const Block*, float*, int64_t),
                const char* type_name, std::initializer_list<size_t> f16_offsets, uint32_t seed) {
  const Counts random = compare(ref, fast, type_name, random_blocks<Block>(f16_offsets, seed));
  EXPECT_EQ(random.differing, 0) << type_name << ": random blocks, of " << kBlocks * 256 << " floats";
  // The edge scales are really there: ±0 scales give −0.0 products, the others mostly nonzero values.
  EXPECT_GT(random.negative_zero, 1000) << type_name;
  EXPECT_GT(random.nonzero, kBlocks * 256 / 2) << type_name;
  const Counts encoded = compare(ref, fast, type_name, encoded_blocks<Block>(type_name, seed + 1));
  EXPECT_EQ(encoded.differing, 0) << type_name << ": encoded blocks, of " << kBlocks * 256 << " floats";
  EXPECT_GT(encoded.nonzero, kBlocks * 256 / 2) << type_name;
}

TEST(GgmlFastDecode, Q4_KMatchesReference) {
  if (!kFastDecodeCompiled) GTEST_SKIP() << kNoFastDecode;
  check_type(dequantize_row_q4_K_ref, dequantize_row_q4_K, "q4_K",
             {offsetof(block_q4_K, d), offsetof(block_q4_K, dmin)}, 101);
}

TEST(GgmlFastDecode, Q5_KMatchesReference) {
  if (!kFastDecodeCompiled) GTEST_SKIP() << kNoFastDecode;
  check_type(dequantize_row_q5_K_ref, dequantize_row_q5_K, "q5_K",
             {offsetof(block_q5_K, d), offsetof(block_q5_K, dmin)}, 102);
}

TEST(GgmlFastDecode, Q6_KMatchesReference) {
  if (!kFastDecodeCompiled) GTEST_SKIP() << kNoFastDecode;
  check_type(dequantize_row_q6_K_ref, dequantize_row_q6_K, "q6_K", {offsetof(block_q6_K, d)}, 103);
}

TEST(GgmlFastDecode, Q3_KMatchesReference) {
  if (!kFastDecodeCompiled) GTEST_SKIP() << kNoFastDecode;
  check_type(dequantize_row_q3_K_ref, dequantize_row_q3_K, "q3_K", {offsetof(block_q3_K, d)}, 104);
}

TEST(GgmlFastDecode, Q2_KMatchesReference) {
  if (!kFastDecodeCompiled) GTEST_SKIP() << kNoFastDecode;
  check_type(dequantize_row_q2_K_ref, dequantize_row_q2_K, "q2_K",
             {offsetof(block_q2_K, d), offsetof(block_q2_K, dmin)}, 105);
}

TEST(GgmlFastDecode, IQ2_XSMatchesReference) {
  if (!kFastDecodeCompiled) GTEST_SKIP() << kNoFastDecode;
  check_type(dequantize_row_iq2_xs_ref, dequantize_row_iq2_xs, "iq2_xs", {offsetof(block_iq2_xs, d)}, 106);
}

}  // namespace
}  // namespace qforge::fakequant::ggml
