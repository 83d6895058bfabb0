// The vectorized encoders give the reference encoders' bytes (ggml-quants.c *_ref, compiled
// -ffp-contract=off) on many rows: Gaussian rows with outliers at many scales, exact rounding ties,
// zero / tiny / huge blocks. The fast paths are chosen at compile time (fakequant/formats/ggml/q8_0.cpp:
// __AVX512F__ && __AVX512BW__; iq4_nl.cpp, q4_k.cpp, q6_k.cpp: __AVX512F__; both from -march=native, CMake
// option QFORGE_NATIVE, and this file gets the same flags); without them quantize_row_* calls the *_ref
// encoder, so the tests skip, saying so, rather than pass by comparing the reference with itself. They skip
// all together (on AVX512F && AVX512BW): ctest marks the whole binary Skipped when any test prints SKIPPED
// (tests/CMakeLists.txt), which would hide a failure of the others; AVX512F without BW is only Xeon Phi.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "fakequant/formats/ggml/iq4_nl.h"
#include "fakequant/formats/ggml/iq4_xs.h"
#include "fakequant/formats/ggml/q2_k.h"
#include "fakequant/formats/ggml/q4_k.h"
#include "fakequant/formats/ggml/q6_k.h"
#include "fakequant/formats/ggml/q8_0.h"
#include "fakequant/formats/ggml/tq1_0.h"
#include "fakequant/formats/ggml/tq2_0.h"
#include "tests/fakequant/ggml_test_util.h"

namespace qforge::fakequant::ggml {
namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__)
constexpr bool kFastPathsCompiled = true;
#else
constexpr bool kFastPathsCompiled = false;
#endif
constexpr const char* kNoFastPath =
    "built without AVX512F + AVX512BW (QFORGE_NATIVE=OFF, or a CPU without them): the fast encoders are not "
    "compiled and quantize_row_* is the *_ref encoder itself";

// Rows of 32·blocks values: each block scaled by a random power of ten; some blocks all zero,
// some denormal-sized, some built so x/d lands exactly on k + 0.5 (round-half-away ties).
std::vector<float> hard_rows(int64_t blocks, uint32_t seed) {
  std::vector<float> x = testing::gaussian_data(blocks * 32, seed, 0.02f);
  std::mt19937 rng(seed + 1);
  std::uniform_int_distribution<int> kind(0, 9), exponent(-30, 30), level(-126, 126);
  for (int64_t b = 0; b < blocks; ++b) {
    float* v = x.data() + 32 * b;
    const int what = kind(rng);
    const float scale = std::pow(10.f, exponent(rng) / 3.f);
    for (int j = 0; j < 32; ++j) v[j] *= scale;
    if (what == 0) std::fill(v, v + 32, 0.f);
    if (what == 1) for (int j = 0; j < 32; ++j) v[j] *= 1e-38f;
    if (what == 2) {  // d = 1 (amax 127): every other value a tie k + 0.5
      for (int j = 0; j < 32; ++j) v[j] = level(rng) + (j % 2 ? 0.5f : 0.f);
      v[0] = 127.f;
    }
  }
  return x;
}

TEST(GgmlFastPaths, Q8_0MatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  const int64_t blocks = 200000;  // 6.4M values
  const std::vector<float> x = hard_rows(blocks, 11);
  std::vector<block_q8_0> ref(blocks), fast(blocks);
  quantize_row_q8_0_ref(x.data(), ref.data(), blocks * 32);
  quantize_row_q8_0(x.data(), fast.data(), blocks * 32);
  int64_t differing = 0;
  for (int64_t b = 0; b < blocks; ++b) differing += std::memcmp(&ref[b], &fast[b], sizeof(block_q8_0)) != 0;
  EXPECT_EQ(differing, 0) << "of " << blocks << " blocks";
  // The ties really are there: a block of d = 1 rounds 0.5 away from zero.
  const float ties[32] = {127.f, 0.5f, -0.5f, 1.5f, -2.5f};
  block_q8_0 b;
  quantize_row_q8_0(ties, &b, 32);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 1);
  EXPECT_EQ(b.qs[2], -1);
  EXPECT_EQ(b.qs[3], 2);
  EXPECT_EQ(b.qs[4], -3);
}

std::vector<float> positive_importance(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::lognormal_distribution<float> dist(0.f, 1.5f);
  std::vector<float> imp(n);
  for (float& v : imp) v = dist(rng);
  return imp;
}

TEST(GgmlFastPaths, IQ4_NLMatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  const int64_t row = 256, rows = 2000;  // 16000 blocks per variant
  const std::vector<float> x = hard_rows(row * rows / 32, 21);
  const std::vector<float> imp = positive_importance(row, 5);
  for (const float* importance : {static_cast<const float*>(nullptr), imp.data()}) {
    std::vector<block_iq4_nl> ref(row * rows / 32), fast(row * rows / 32);
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row_iq4_nl_ref(x.data() + r * row, ref.data() + r * row / 32, row, importance);
      quantize_row_iq4_nl(x.data() + r * row, fast.data() + r * row / 32, row, importance);
    }
    int64_t differing = 0;
    for (size_t b = 0; b < ref.size(); ++b) differing += std::memcmp(&ref[b], &fast[b], sizeof(block_iq4_nl)) != 0;
    EXPECT_EQ(differing, 0) << "of " << ref.size() << " blocks, importance " << (importance != nullptr);
  }
}

// Encodes `rows` super-blocks of 256 hard values with the reference and the fast encoder, without and with
// importance, and counts the super-blocks whose bytes differ (expected 0 for each).
template <typename Block, typename Encode>
void expect_same_super_blocks(Encode ref_encode, Encode fast_encode, uint32_t seed, uint32_t importance_seed) {
  const int64_t row = 256, rows = 1500;
  const std::vector<float> x = hard_rows(row * rows / 32, seed);
  const std::vector<float> imp = positive_importance(row, importance_seed);
  for (const float* importance : {static_cast<const float*>(nullptr), imp.data()}) {
    std::vector<Block> ref(rows), fast(rows);
    for (int64_t r = 0; r < rows; ++r) {
      ref_encode(x.data() + r * row, &ref[r], row, importance);
      fast_encode(x.data() + r * row, &fast[r], row, importance);
    }
    int64_t differing = 0;
    for (size_t b = 0; b < ref.size(); ++b) differing += std::memcmp(&ref[b], &fast[b], sizeof(Block)) != 0;
    EXPECT_EQ(differing, 0) << "of " << ref.size() << " super-blocks, importance " << (importance != nullptr);
  }
}

TEST(GgmlFastPaths, Q4_KMatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  expect_same_super_blocks<block_q4_K>(quantize_row_q4_K_ref, quantize_row_q4_K, 31, 6);
}

// Q2_K scores its plain search by weighted absolute error (use_mad) and its importance search by squared error.
TEST(GgmlFastPaths, Q2_KMatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  expect_same_super_blocks<block_q2_K>(quantize_row_q2_K_ref, quantize_row_q2_K, 37, 8);
}

// Rows for the ternary types: exact halves and near-halves of the row's max (x/d on a lround tie, which
// goes away from zero), and a NaN now and then (lround's LONG_MIN, truncated to int: trit 0).
std::vector<float> ternary_rows(int64_t row, int64_t rows) {
  std::vector<float> x = hard_rows(row * rows / 32, 43);
  for (int64_t r = 0; r < rows; r += 3) {
    float amax = 0;
    for (int64_t j = 0; j < row; ++j) amax = std::max(amax, std::fabs(x[r * row + j]));
    for (int64_t j = 0; j < row; j += 5) x[r * row + j] = (j % 2 ? -0.5f : 0.5f) * amax * (j % 3 ? 1.f : 1.0000001f);
    if (r % 7 == 0) x[r * row + (r % row)] = std::nanf("");
  }
  return x;
}

template <typename Block, typename Encode>
void expect_same_ternary_blocks(Encode ref_encode, Encode fast_encode) {
  const int64_t row = 256, rows = 1500;
  const std::vector<float> x = ternary_rows(row, rows);
  std::vector<Block> ref(rows), fast(rows);
  for (int64_t r = 0; r < rows; ++r) {
    ref_encode(x.data() + r * row, &ref[r], row, nullptr);
    fast_encode(x.data() + r * row, &fast[r], row, nullptr);
  }
  int64_t differing = 0;
  for (size_t b = 0; b < ref.size(); ++b) differing += std::memcmp(&ref[b], &fast[b], sizeof(Block)) != 0;
  EXPECT_EQ(differing, 0) << "of " << ref.size() << " super-blocks";
}

TEST(GgmlFastPaths, TQ2_0MatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  expect_same_ternary_blocks<block_tq2_0>(quantize_row_tq2_0_ref, quantize_row_tq2_0);
}

TEST(GgmlFastPaths, TQ1_0MatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  expect_same_ternary_blocks<block_tq1_0>(quantize_row_tq1_0_ref, quantize_row_tq1_0);
}

TEST(GgmlFastPaths, IQ4_XSMatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  expect_same_super_blocks<block_iq4_xs>(quantize_row_iq4_xs_ref, quantize_row_iq4_xs, 47, 9);
}

TEST(GgmlFastPaths, Q6_KMatchesReferenceOnManyRows) {
  if (!kFastPathsCompiled) GTEST_SKIP() << kNoFastPath;
  expect_same_super_blocks<block_q6_K>(quantize_row_q6_K_ref, quantize_row_q6_K, 41, 7);
}

}  // namespace
}  // namespace qforge::fakequant::ggml
