// qforge side of `make bench`: reads "<case> <min_seconds>" lines on stdin and answers
// "<case> <median_ms>", so bench/compare.py can alternate it with the PyTorch side in one run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_cases.h"

namespace {

double median_ms(const std::function<void()>& step, double min_seconds) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 2; ++i) step();  // warm-up: allocator cache, first-touch pages, packing buffers
  std::vector<double> samples;
  const auto start = clock::now();
  while (samples.size() < 3 || (std::chrono::duration<double>(clock::now() - start).count() < min_seconds &&
                                samples.size() < 1000)) {
    const auto t0 = clock::now();
    step();
    samples.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  std::nth_element(samples.begin(), samples.begin() + samples.size() / 2, samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main() {
  std::map<std::string, std::function<void()>> prepared;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string name;
    double min_seconds = 0.5;
    words >> name >> min_seconds;
    if (name == "list") {
      for (const auto& c : qforge::bench::bench_cases()) std::cout << c.name << ' ';
      std::cout << std::endl;
      continue;
    }
    if (!prepared.count(name)) {
      for (const auto& c : qforge::bench::bench_cases())
        if (c.name == name) prepared[name] = c.prepare();
    }
    if (!prepared.count(name)) {
      std::cout << name << " error unknown-case" << std::endl;
      continue;
    }
    std::cout << name << ' ' << median_ms(prepared[name], min_seconds) << std::endl;
  }
}
