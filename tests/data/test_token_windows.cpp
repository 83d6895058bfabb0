// Train/validation split and random context windows: targets are the inputs shifted by one,
// batches are a pure function of the seed, and a saved generator state resumes bit-identically.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "data/token_windows.h"
#include "tests/data/errors.h"

namespace qforge::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::vector<int64_t> values(const autograd::IndexTensor& t) { return {t.data(), t.data() + t.numel()}; }

TokenIds counting(size_t n) {
  TokenIds ids(n);
  std::iota(ids.begin(), ids.end(), 0u);
  return ids;
}

TEST(SplitTokens, FirstNinetyPercentTrain) {
  const TokenSplit split = split_tokens(counting(1005));
  ASSERT_EQ(split.train.size(), 904u);  // floor(0.9 * 1005)
  ASSERT_EQ(split.validation.size(), 101u);
  EXPECT_EQ(split.train.back(), 903u);
  EXPECT_EQ(split.validation.front(), 904u);
  EXPECT_EQ(split_tokens(counting(10), 0.5).train, counting(5));
  EXPECT_THAT(testing::invalid_argument_of([] { split_tokens(counting(10), 1.0); }),
              HasSubstr("train_fraction must be in (0, 1), got 1.0"));
}

TEST(WindowSampler, TargetsAreInputsShiftedByOne) {
  // Tokens are (i * 7) mod 50 so a window's content identifies its start uniquely enough.
  TokenIds tokens(500);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 7 % 50);
  WindowSampler sampler(tokens, /*context=*/16, /*batch_size=*/8, /*seed=*/1);
  for (int step = 0; step < 20; ++step) {
    const WindowBatch batch = sampler.next();
    ASSERT_EQ(batch.inputs.shape(), (autograd::Shape{8, 16}));
    ASSERT_EQ(batch.targets.shape(), (autograd::Shape{8, 16}));
    for (int64_t row = 0; row < 8; ++row) {
      const int64_t* in = batch.inputs.data() + row * 16;
      const int64_t* out = batch.targets.data() + row * 16;
      for (int k = 0; k + 1 < 16; ++k) EXPECT_EQ(out[k], in[k + 1]);
      EXPECT_EQ(out[15], (in[15] + 7) % 50);  // the token after the window
    }
  }
}

TEST(WindowSampler, CoversEveryStartIncludingTheLast) {
  // 12 tokens, context 4: starts 0..7 are all valid and all should appear.
  WindowSampler sampler(counting(12), 4, 16, 3);
  std::set<int64_t> starts;
  for (int step = 0; step < 20; ++step) {
    const WindowBatch batch = sampler.next();
    for (int64_t row = 0; row < 16; ++row) starts.insert(batch.inputs.data()[row * 4]);
  }
  EXPECT_EQ(starts, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(WindowSampler, DeterministicPerSeedAndResumable) {
  WindowSampler a(counting(10000), 32, 4, 42), b(counting(10000), 32, 4, 42), c(counting(10000), 32, 4, 43);
  for (int step = 0; step < 5; ++step) {
    const WindowBatch from_a = a.next(), from_b = b.next(), from_c = c.next();
    EXPECT_EQ(values(from_a.inputs), values(from_b.inputs));
    EXPECT_EQ(values(from_a.targets), values(from_b.targets));
    EXPECT_NE(values(from_a.inputs), values(from_c.inputs));
  }
  // Save after 5 batches, draw 3 more, then resume a fresh sampler from the saved state.
  const RngState saved = a.state();
  std::vector<std::vector<int64_t>> continued;
  for (int step = 0; step < 3; ++step) continued.push_back(values(a.next().inputs));
  WindowSampler resumed(counting(10000), 32, 4, /*seed=*/999);
  resumed.set_state(saved);
  for (int step = 0; step < 3; ++step) EXPECT_EQ(values(resumed.next().inputs), continued[static_cast<size_t>(step)]);
}

TEST(WindowSampler, TooShortForContext) {
  EXPECT_THAT(testing::runtime_error_of([] { WindowSampler(counting(16), 16, 2, 0, "val.bin"); }),
              AllOf(HasSubstr("val.bin holds 16 tokens, too short for context length 16 (needs 17)")));
  EXPECT_NO_THROW(WindowSampler(counting(17), 16, 2, 0));
  EXPECT_THAT(testing::invalid_argument_of([] { WindowSampler(counting(17), 0, 2, 0); }),
              HasSubstr("context and batch_size must be > 0, got 0 and 2"));
  WindowSampler sampler(counting(17), 16, 2, 0);
  EXPECT_THAT(testing::invalid_argument_of([&] { sampler.set_state({0, 0}); }), HasSubstr("all-zero state"));
}

}  // namespace
}  // namespace qforge::data
