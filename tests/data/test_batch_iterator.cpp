// Shuffled batches: every epoch is a permutation, the same (seed, epoch) replays the same
// order, another epoch or seed gives another, and the last partial batch is kept or dropped.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "data/batch_iterator.h"
#include "data/rng.h"
#include "tests/data/errors.h"

namespace qforge::data {
namespace {

using ::testing::HasSubstr;

std::vector<int64_t> all_indices(ShuffledBatches& batches, int64_t epoch) {
  std::vector<int64_t> out;
  for (int64_t b = 0; b < batches.num_batches(); ++b) {
    const std::vector<int64_t> indices = batches.batch_indices(epoch, b);
    out.insert(out.end(), indices.begin(), indices.end());
  }
  return out;
}

TEST(ShuffledBatches, EpochIsAPermutationAndDeterministic) {
  ShuffledBatches a(103, {.batch_size = 10, .seed = 7});
  ShuffledBatches b(103, {.batch_size = 10, .seed = 7});
  ASSERT_EQ(a.num_batches(), 11);
  const std::vector<int64_t> epoch0 = all_indices(a, 0);
  std::vector<int64_t> sorted = epoch0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expected(103);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(sorted, expected);
  EXPECT_NE(epoch0, expected);  // actually shuffled

  EXPECT_EQ(all_indices(b, 0), epoch0);  // same seed, same epoch: same order
  EXPECT_EQ(all_indices(a, 0), epoch0);  // asking again (cache) changes nothing
  const std::vector<int64_t> epoch1 = all_indices(a, 1);
  EXPECT_NE(epoch1, epoch0);
  EXPECT_EQ(all_indices(b, 1), epoch1);  // b skipped nothing: epoch order is a pure function
  ShuffledBatches other_seed(103, {.batch_size = 10, .seed = 8});
  EXPECT_NE(all_indices(other_seed, 0), epoch0);
}

TEST(ShuffledBatches, LastPartialBatchKeptOrDropped) {
  ShuffledBatches keep(25, {.batch_size = 10, .seed = 1});
  ShuffledBatches drop(25, {.batch_size = 10, .seed = 1, .drop_last = true});
  EXPECT_EQ(keep.num_batches(), 3);
  EXPECT_EQ(keep.batch_indices(0, 2).size(), 5u);
  EXPECT_EQ(drop.num_batches(), 2);
  EXPECT_EQ(drop.batch_indices(0, 1), keep.batch_indices(0, 1));  // dropping changes no other batch
  EXPECT_THAT(testing::message_of<std::out_of_range>([&] { drop.batch_indices(0, 2); }),
              HasSubstr("batch 2 out of range [0, 2)"));
  ShuffledBatches exact(20, {.batch_size = 10, .drop_last = true});
  EXPECT_EQ(exact.num_batches(), 2);
}

TEST(ShuffledBatches, NoShuffleKeepsFileOrder) {
  ShuffledBatches plain(7, {.batch_size = 3, .seed = 5, .shuffle = false});
  EXPECT_EQ(plain.batch_indices(4, 2), (std::vector<int64_t>{6}));
  EXPECT_EQ(plain.batch_indices(0, 1), (std::vector<int64_t>{3, 4, 5}));
}

TEST(ShuffledBatches, ShuffleIsRoughlyUniform) {
  // Position of example 0 over 2000 epochs of 10 examples: each slot expects 200.
  ShuffledBatches batches(10, {.batch_size = 10, .seed = 3});
  std::vector<int> slot_counts(10, 0);
  for (int64_t epoch = 0; epoch < 2000; ++epoch) {
    const std::vector<int64_t>& order = batches.epoch_order(epoch);
    ++slot_counts[static_cast<size_t>(std::find(order.begin(), order.end(), 0) - order.begin())];
  }
  for (int count : slot_counts) EXPECT_NEAR(count, 200, 60);
}

TEST(ShuffledBatches, BadOptions) {
  EXPECT_THAT(testing::invalid_argument_of([] { ShuffledBatches(10, {.batch_size = 0}); }),
              HasSubstr("batch_size must be > 0, got 0"));
}

TEST(ImageBatches, GatherRowsAndLabels) {
  // 5 examples of 2x2 pixels; example i holds pixels 10i..10i+3 and label i.
  std::vector<float> pixels;
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 4; ++k) pixels.push_back(float(10 * i + k));
  ImageDataset dataset{autograd::Tensor::from_vector({5, 1, 2, 2}, pixels), autograd::IndexTensor({5}, {0, 1, 2, 3, 4})};
  ImageBatches batches(dataset, {.batch_size = 2, .seed = 11});
  ASSERT_EQ(batches.num_batches(), 3);
  int64_t seen = 0;
  for (int64_t b = 0; b < 3; ++b) {
    const ImageBatch batch = batches.batch(2, b);
    EXPECT_EQ(batch.images.dim(0), batch.labels.numel());
    EXPECT_EQ(batch.images.shape().to_vector(), (std::vector<int64_t>{batch.labels.numel(), 1, 2, 2}));
    for (int64_t i = 0; i < batch.labels.numel(); ++i) {
      const int64_t label = batch.labels.data()[i];
      seen += label;
      for (int k = 0; k < 4; ++k) EXPECT_EQ(batch.images.data()[i * 4 + k], float(10 * label + k));
    }
  }
  EXPECT_EQ(seen, 0 + 1 + 2 + 3 + 4);
}

TEST(Rng, StateRoundTripAndKnownStream) {
  Rng rng(42);
  for (int i = 0; i < 5; ++i) rng.next_u64();
  Rng resumed = Rng::from_state(rng.state());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(resumed.next_u64(), rng.next_u64());
  EXPECT_NE(Rng(42, 0).next_u64(), Rng(42, 1).next_u64());
  // xoroshiro128++ from state {1, 2}: first output rotl(1 + 2, 17) + 1 = 393217.
  EXPECT_EQ(Rng::from_state({1, 2}).next_u64(), 393217u);
  for (uint64_t bound : {1ull, 7ull, 1000ull, (1ull << 63) + 5}) {
    for (int i = 0; i < 50; ++i) EXPECT_LT(rng.uniform_below(bound), bound);
  }
}

}  // namespace
}  // namespace qforge::data
