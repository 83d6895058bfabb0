// PackedGroupIndexWeight (fakequant/packed/packed_group_index.h): every bit width's codes come back from the
// per-row bit stream (3-, 5-, 6- and 7-bit codes straddle words), rows decode to
// scales[r, g_idx[c]] · (q − zeros[r, g_idx[c]]) in float32 for an act-order g_idx, the 4-bit fast path (16
// columns per AVX-512 step) gives the same bits for contiguous and scattered groups, groups that end inside a
// step and columns left over, and bad inputs are refused.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "fakequant/packed/packed_group_index.h"

namespace qforge::fakequant {
namespace {

struct Sample {
  GroupIndexState state;
  std::vector<int64_t> codes;
};

// rows x cols, groups of `group_size` over a random column permutation (GPTQ act-order's g_idx) or in order.
Sample sample(int bits, int64_t rows = 5, int64_t cols = 48, unsigned seed = 3, int64_t group_size = 16, bool act_order = true) {
  std::mt19937 rng(seed);
  Sample s;
  s.state.rows = rows, s.state.cols = cols, s.state.bits = bits, s.state.group_size = group_size;
  std::vector<int64_t> order(static_cast<size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  if (act_order) std::shuffle(order.begin(), order.end(), rng);
  s.state.g_idx.resize(static_cast<size_t>(cols));
  for (int64_t k = 0; k < cols; ++k) s.state.g_idx[static_cast<size_t>(order[k])] = k / group_size;
  const int64_t maxq = (int64_t{1} << bits) - 1, params = rows * s.state.groups();
  std::uniform_int_distribution<int64_t> code(0, maxq);
  std::uniform_real_distribution<float> scale(1e-3f, 1e-1f);
  for (int64_t p = 0; p < params; ++p) s.state.scales.push_back(scale(rng)), s.state.zeros.push_back(code(rng));
  for (int64_t i = 0; i < rows * cols; ++i) s.codes.push_back(code(rng));
  return s;
}

// Rows 1..3 of `s` decoded by the weight against the formula, bit for bit.
void expect_formula(const Sample& s) {
  const PackedGroupIndexWeight w(s.state, s.codes);
  std::vector<float> rows(static_cast<size_t>(3 * s.state.cols));
  w.dequantize_rows(1, 4, rows.data());
  for (int64_t r = 1; r < 4; ++r) {
    for (int64_t c = 0; c < s.state.cols; ++c) {
      const size_t p = static_cast<size_t>(r * s.state.groups() + s.state.g_idx[static_cast<size_t>(c)]);
      const float want = s.state.scales[p] * static_cast<float>(s.codes[static_cast<size_t>(r * s.state.cols + c)] - s.state.zeros[p]);
      const float got = rows[static_cast<size_t>((r - 1) * s.state.cols + c)];
      ASSERT_EQ(std::memcmp(&want, &got, sizeof want), 0) << "row " << r << " column " << c;
    }
  }
}

TEST(PackedGroupIndexWeight, EveryWidthDecodesTheFormula) {
  for (int bits = 2; bits <= 8; ++bits) {
    SCOPED_TRACE(bits);
    const Sample s = sample(bits);
    const PackedGroupIndexWeight w(s.state, s.codes);
    EXPECT_EQ(w.codes(), s.codes);
    EXPECT_EQ(w.format(), "int" + std::to_string(bits) + ":g16");
    expect_formula(s);
  }
}

TEST(PackedGroupIndexWeight, FourBitFastPathDecodesTheFormula) {
  struct Case { int64_t cols, group_size; bool act_order; };
  // 300 = 18 steps of 16 + 12 left over; groups of 24 end inside a step; act-order looks groups up every step:
  // in one register (up to 16 groups), two (17..32: 400 / 16 = 25 groups) or from memory (600 / 16 = 38 groups).
  for (const Case k : {Case{300, 128, false}, Case{300, 24, false}, Case{50, 16, true}, Case{1000, 128, true},
                       Case{400, 16, true}, Case{600, 16, true}, Case{7, 4, false}}) {
    SCOPED_TRACE(std::to_string(k.cols) + " columns, groups of " + std::to_string(k.group_size) + (k.act_order ? ", act-order" : ""));
    expect_formula(sample(4, 5, k.cols, 11, k.group_size, k.act_order));
  }
}

TEST(PackedGroupIndexWeight, RefusesCodesOffTheGridAndBadStates) {
  Sample s = sample(4);
  s.codes[7] = 16;
  EXPECT_THAT([&] { PackedGroupIndexWeight(s.state, s.codes); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("code 16 at [0, 7] not in 0..15")));
  s = sample(4);
  s.codes.pop_back();
  EXPECT_THROW(PackedGroupIndexWeight(s.state, s.codes), std::invalid_argument);
  s = sample(4);
  s.state.scales[2] = 0.0f;
  EXPECT_THAT([&] { PackedGroupIndexWeight(s.state, s.codes); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("is not positive and finite")));
  const Sample ok = sample(4);
  const PackedGroupIndexWeight w(ok.state, ok.codes);
  std::vector<float> out(static_cast<size_t>(ok.state.cols));
  EXPECT_THROW(w.dequantize_rows(4, 6, out.data()), std::out_of_range);
}

}  // namespace
}  // namespace qforge::fakequant
