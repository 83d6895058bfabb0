#include "autograd/allocator.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace qforge::autograd {

namespace {

// Blocks below this go straight to malloc, whose bins recycle them cheaply. Above glibc's
// 128 KiB mmap threshold malloc maps fresh pages per call (and trims freed heap tops back to the
// system), so from 64 KiB on the cache keeps blocks itself.
constexpr size_t kCachedMinimum = size_t{64} << 10;
// Upper bound on idle cached memory; beyond it freed blocks go back to the system.
constexpr size_t kCacheLimit = size_t{2} << 30;
constexpr size_t kHugePage = size_t{2} << 20;

// Size classes 1/8 of a power of two apart, so a block serves requests up to 12.5% smaller.
size_t size_class(size_t bytes) {
  if (bytes < kCachedMinimum) return (bytes + 63) / 64 * 64;
  size_t power = kCachedMinimum;
  while (power * 2 <= bytes) power *= 2;
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

class BlockCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end()) return nullptr;
    void* block = it->second;
    free_.erase(it);
    cached_ -= bytes;
    return block;
  }
  bool give(void* block, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + bytes > kCacheLimit) return false;
    free_.emplace(bytes, block);
    cached_ += bytes;
    return true;
  }
  size_t cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, block] : free_) std::free(block);
    free_.clear();
    cached_ = 0;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

// Leaked on purpose: tensors held by static objects may be freed after it would be destroyed.
BlockCache& cache() {
  static BlockCache* instance = new BlockCache();
  return *instance;
}

void* fresh_block(size_t bytes) {
  const bool large = bytes >= kHugePage;
  // posix_memalign, unlike aligned_alloc, does not require the size to be a multiple of the alignment.
  void* block = nullptr;
  if (posix_memalign(&block, large ? kHugePage : 64, bytes) != 0) throw std::bad_alloc();
  // Transparent huge pages are opt-in here (madvise mode): fewer TLB misses in GEMM and
  // elementwise passes over large tensors.
  if (large) madvise(block, bytes, MADV_HUGEPAGE);
  return block;
}

// Live and peak bytes for memory reports (activation checkpointing is measured with them).
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};

void count_allocation(size_t bytes) {
  const int64_t live = g_live_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed) +
                       static_cast<int64_t>(bytes);
  int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}

void count_release(size_t bytes) { g_live_bytes.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed); }

}  // namespace

std::shared_ptr<float[]> allocate_floats(int64_t count) {
  const size_t bytes = size_class(std::max<size_t>(64, static_cast<size_t>(count) * sizeof(float)));
  if (bytes < kCachedMinimum) {
    void* block = fresh_block(bytes);
    count_allocation(bytes);
    return std::shared_ptr<float[]>(static_cast<float*>(block), [bytes](float* p) {
      count_release(bytes);
      std::free(p);
    });
  }
  void* block = cache().take(bytes);
  if (block == nullptr) block = fresh_block(bytes);
  count_allocation(bytes);
  return std::shared_ptr<float[]>(static_cast<float*>(block), [bytes](float* p) {
    count_release(bytes);
    if (!cache().give(p, bytes)) std::free(p);
  });
}

int64_t live_allocation_bytes() { return g_live_bytes.load(std::memory_order_relaxed); }

int64_t peak_allocation_bytes() { return g_peak_bytes.load(std::memory_order_relaxed); }

void reset_peak_allocation_bytes() { g_peak_bytes.store(g_live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed); }

int64_t cached_allocation_bytes() { return static_cast<int64_t>(cache().cached()); }

void release_cached_allocations() { cache().release(); }

}  // namespace qforge::autograd
