#pragma once
// Runs tests/optim/torch_optim_reference.py once on a request file and returns its answer file.
// Header-only: each test executable in tests/optim/ compiles it in.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "tests/support/tensor_file.h"

#ifndef QFORGE_SOURCE_DIR
#error "QFORGE_SOURCE_DIR must name the source tree"
#endif
#ifndef QFORGE_TORCH_PYTHON
#error "QFORGE_TORCH_PYTHON must name the Python interpreter that has torch"
#endif

namespace qforge::testing {

inline TensorFile run_torch_optim_reference(const TensorFile& request, const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_optim_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string in_path = (dir / "request.qft").string(), out_path = (dir / "answer.qft").string();
  request.save(in_path);
  const std::string command = std::string(QFORGE_TORCH_PYTHON) + " " + QFORGE_SOURCE_DIR +
                              "/tests/optim/torch_optim_reference.py " + in_path + " " + out_path;
  if (std::system(command.c_str()) != 0) throw std::runtime_error("PyTorch reference failed: " + command);
  TensorFile answer = TensorFile::load(out_path);
  std::filesystem::remove_all(dir);
  return answer;
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
