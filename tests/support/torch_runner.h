#pragma once
// Runs a PyTorch reference script (Debian's torch, QFORGE_TORCH_PYTHON) once on a request file of
// named tensors and returns its answer file (tests/support/tensor_file.h). Header-only: the test
// executables define QFORGE_SOURCE_DIR and QFORGE_TORCH_PYTHON.
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

// `script` is relative to the source tree, e.g. "tests/torch_reference.py"; `tag` keeps the
// temporary folders of concurrent tests apart.
inline TensorFile run_torch_script(const std::string& script, const TensorFile& request, const std::string& tag) {
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_" + tag + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string in_path = (dir / "request.qft").string(), out_path = (dir / "answer.qft").string();
  request.save(in_path);
  const std::string command =
      std::string(QFORGE_TORCH_PYTHON) + " " + QFORGE_SOURCE_DIR + "/" + script + " " + in_path + " " + out_path;
  if (std::system(command.c_str()) != 0) throw std::runtime_error("PyTorch reference failed: " + command);
  TensorFile answer = TensorFile::load(out_path);
  std::filesystem::remove_all(dir);
  return answer;
}

}  // namespace qforge::testing
