#pragma once
// Runs tests/optim/torch_optim_reference.py and compares with it. Header-only.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "tests/support/torch_runner.h"

namespace qforge::testing {

inline TensorFile run_torch_optim_reference(const TensorFile& request, const std::string& tag) {
  return run_torch_script("tests/optim/torch_optim_reference.py", request, "optim_" + tag);
}

// Largest |ours - theirs| / (1 + |theirs|): absolute near zero, relative for large values.
struct Discrepancy {
  double max_abs = 0.0, scaled = 0.0;
  void add(double ours, double theirs) {
    const double diff = std::abs(ours - theirs);
    max_abs = std::max(max_abs, diff);
    scaled = std::max(scaled, diff / (1.0 + std::abs(theirs)));
  }
};

}  // namespace qforge::testing
