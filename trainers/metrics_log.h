#pragma once
// metrics.jsonl in the run folder: one JSON object per line, appended and flushed as it happens, so
// an interrupted run keeps every line it wrote and a resumed run continues the same file.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace qforge::trainers {

class MetricsLog {
 public:
  explicit MetricsLog(const std::filesystem::path& path);  // throws naming the path
  // {"step": step, "event": event, name: value...}
  void write(int64_t step, const std::string& event, const std::map<std::string, double>& values);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace qforge::trainers
