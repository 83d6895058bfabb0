#pragma once
// Internal to optim/*.cpp: the size above which an elementwise update loop runs under OpenMP.
// Every update is per element, so results do not depend on the thread count.
#include <cstdint>

namespace qforge::optim::detail {

inline constexpr int64_t kParallelThreshold = 1 << 15;

}  // namespace qforge::optim::detail
