#include "fuzz/fuzz_support.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace qforge::fuzz {
namespace {

namespace fs = std::filesystem;

volatile uint8_t g_sink = 0;  // keeps touch()'s reads from being optimized away

fs::path make_scratch_dir() {
  std::error_code error;
  const fs::path base = fs::is_directory("/dev/shm", error) ? fs::path("/dev/shm") : fs::temp_directory_path();
  std::string pattern = (base / "qforge-fuzz-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) finding("cannot create a scratch folder under " + base.string());
  return pattern;
}

// Removes the scratch folder when the process ends normally (libFuzzer's -runs / -max_total_time).
struct ScratchDir {
  fs::path path = make_scratch_dir();
  ~ScratchDir() {
    std::error_code error;
    fs::remove_all(path, error);
  }
};

}  // namespace

const fs::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path;
}

fs::path write_scratch(const std::string& name, std::span<const uint8_t> bytes) {
  const fs::path path = scratch_dir() / name;
  std::error_code error;
  fs::create_directories(path.parent_path(), error);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) finding("cannot write the scratch file " + path.string());
  return path;
}

void remove_scratch(const std::string& name) {
  std::error_code error;
  fs::remove(scratch_dir() / name, error);
}

std::vector<std::span<const uint8_t>> split_files(std::span<const uint8_t> data, size_t count) {
  std::vector<std::span<const uint8_t>> parts;
  const auto* separator = reinterpret_cast<const uint8_t*>(kFileSeparator.data());
  while (parts.size() + 1 < count) {
    const auto at = std::search(data.begin(), data.end(), separator, separator + kFileSeparator.size());
    if (at == data.end()) break;
    parts.push_back(data.first(static_cast<size_t>(at - data.begin())));
    data = data.subspan(static_cast<size_t>(at - data.begin()) + kFileSeparator.size());
  }
  parts.push_back(data);
  parts.resize(count);
  return parts;
}

void touch(std::span<const std::byte> span) {
  uint8_t sum = 0;
  for (std::byte b : span) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(b));
  g_sink = static_cast<uint8_t>(g_sink + sum);
}

}  // namespace qforge::fuzz
