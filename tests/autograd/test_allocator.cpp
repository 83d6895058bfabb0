// The block cache hands freed large blocks back to the next request of the same size class,
// keeps small blocks out of it, and releases on demand.
#include <gtest/gtest.h>

#include "autograd/allocator.h"
#include "autograd/tensor.h"

namespace qforge::autograd {
namespace {

TEST(Allocator, LargeBlocksAreReusedAndAligned) {
  release_cached_allocations();
  const float* first = nullptr;
  {
    Tensor big(Shape{1024, 1024});  // 4 MiB
    first = big.data();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % 64, 0u);
    EXPECT_EQ(cached_allocation_bytes(), 0);
  }
  EXPECT_GE(cached_allocation_bytes(), 4 << 20);
  Tensor again(Shape{1000, 1024});  // same size class (within 1/8)
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(cached_allocation_bytes(), 0);
}

TEST(Allocator, SmallBlocksBypassTheCache) {
  release_cached_allocations();
  { Tensor small(Shape{16, 16}); }
  EXPECT_EQ(cached_allocation_bytes(), 0);
}

TEST(Allocator, ReleaseEmptiesTheCache) {
  { Tensor big(Shape{512, 1024}); }
  EXPECT_GT(cached_allocation_bytes(), 0);
  release_cached_allocations();
  EXPECT_EQ(cached_allocation_bytes(), 0);
}

}  // namespace
}  // namespace qforge::autograd
