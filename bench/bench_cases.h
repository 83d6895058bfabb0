#pragma once
// The cases `make bench` times, shared by name with bench/torch_ops.py. Each case builds its inputs
// once and returns a closure running forward + backward; the two sides use the same shapes.
#include <functional>
#include <string>
#include <vector>

namespace qforge::bench {

struct BenchCase {
  std::string name;
  std::function<std::function<void()>()> prepare;  // returns the timed step
};

const std::vector<BenchCase>& bench_cases();

}  // namespace qforge::bench
