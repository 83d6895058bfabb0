#pragma once
// The temporaries io::write_file_atomically may leave next to `path` ("<name>.tmp" and
// "<name>.tmp.<pid>.<n>"): tests of atomic writers expect none after a write, failed or not.
#include <filesystem>
#include <string>
#include <vector>

namespace qforge::testing {

inline std::vector<std::string> temporaries_of(const std::filesystem::path& path) {
  const std::string prefix = path.filename().string() + ".tmp";
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::vector<std::string> found;
  std::error_code error;
  for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) == 0) found.push_back(name);
  }
  return found;
}

}  // namespace qforge::testing
