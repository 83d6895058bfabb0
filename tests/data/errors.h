#pragma once
// The message of the exception of type E a call throws, for asserting error texts with
// HasSubstr; a marker string when it throws nothing of that type.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace qforge::data::testing {

template <class E, class F>
std::string message_of(F call) {
  try {
    call();
  } catch (const E& e) {
    return e.what();
  }
  return "<no matching exception thrown>";
}

template <class F>
std::string runtime_error_of(F call) { return message_of<std::runtime_error>(call); }
template <class F>
std::string invalid_argument_of(F call) { return message_of<std::invalid_argument>(call); }

// A fresh empty directory under the system temporary directory, unique per process.
inline std::string make_temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace qforge::data::testing
