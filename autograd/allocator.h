#pragma once
// Storage for tensors. Large blocks are recycled: a training step frees and re-allocates the same
// activation sizes every iteration, and handing each one back to the kernel would cost a page fault
// per 4 KiB on the next first touch (about a millisecond per 16 MiB tensor).
#include <cstdint>
#include <memory>

namespace qforge::autograd {

// 64-byte aligned storage for `count` floats, uninitialised.
std::shared_ptr<float[]> allocate_floats(int64_t count);

// Bytes currently parked in the cache of freed large blocks (for tests and memory reports).
int64_t cached_allocation_bytes();
// Returns every cached block to the system.
void release_cached_allocations();

}  // namespace qforge::autograd
