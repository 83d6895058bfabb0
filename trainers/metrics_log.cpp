#include "trainers/metrics_log.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace qforge::trainers {

MetricsLog::MetricsLog(const std::filesystem::path& path) : path_(path) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  out_.open(path, std::ios::app);
  if (!out_) throw std::runtime_error(path.string() + ": cannot open metrics log for appending");
}

void MetricsLog::write(int64_t step, const std::string& event, const std::map<std::string, double>& values) {
  nlohmann::json line;
  line["step"] = step;
  line["event"] = event;
  // JSON has no NaN or infinity; a diverged loss is written as null rather than breaking the file.
  for (const auto& [name, value] : values) line[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
  out_ << line.dump() << '\n';
  out_.flush();
  if (!out_) throw std::runtime_error(path_.string() + ": write failed");
}

}  // namespace qforge::trainers
