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

// Bytes of tensor storage currently handed out (held by live tensors; the idle cache is not
// counted), over all threads, rounded up to the allocator's size classes.
int64_t live_allocation_bytes();
// The maximum of live_allocation_bytes() since the last reset_peak_allocation_bytes() (or start).
int64_t peak_allocation_bytes();
// Restarts the peak from the current live bytes (to measure one phase, e.g. a training step).
void reset_peak_allocation_bytes();

}  // namespace qforge::autograd
