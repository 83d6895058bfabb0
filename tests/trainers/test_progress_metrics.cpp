// Progress output in plain mode, duration formatting, and the JSONL metrics log.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "trainers/metrics_log.h"
#include "trainers/progress.h"

namespace qforge::trainers {
namespace {

std::string read_all(FILE* f) {
  std::rewind(f);
  std::string text;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, f)) text += buffer;
  return text;
}

TEST(Progress, PlainModePrintsEveryLogStepAndTheLast) {
  FILE* out = std::tmpfile();
  ProgressReporter progress(5, "tokens", out, /*interactive=*/false);
  for (int step = 1; step <= 5; ++step) progress.update(step, 2.0 / step, 100, 2);
  progress.message("eval: val_loss=1.0");
  progress.finish();
  const std::string text = read_all(out);
  EXPECT_NE(text.find("step 2/5 loss 1.0000"), std::string::npos) << text;
  EXPECT_NE(text.find("step 4/5 loss 0.5000"), std::string::npos) << text;
  EXPECT_NE(text.find("step 5/5 loss 0.4000"), std::string::npos) << text;
  EXPECT_EQ(text.find("step 3/5"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << "plain mode must not redraw";
  EXPECT_NE(text.find("tokens/s"), std::string::npos);
  EXPECT_NE(text.find("eval: val_loss=1.0\n"), std::string::npos);
  std::fclose(out);
}

TEST(Progress, InteractiveModeRedrawsOneLine) {
  FILE* out = std::tmpfile();
  ProgressReporter progress(4, "samples", out, /*interactive=*/true);
  progress.update(2, 1.5, 10, 100);
  progress.finish();
  const std::string text = read_all(out);
  EXPECT_EQ(text.rfind("\r[############............] step 2/4", 0), 0u) << text;
  std::fclose(out);
}

TEST(Progress, DurationFormat) {
  EXPECT_EQ(ProgressReporter::format_duration(65), "1:05");
  EXPECT_EQ(ProgressReporter::format_duration(3723), "1:02:03");
  EXPECT_EQ(ProgressReporter::format_duration(-3), "0:00");
}

TEST(MetricsLog, AppendsOneJsonObjectPerLine) {
  const auto path = std::filesystem::temp_directory_path() / ("qforge_metrics_" + std::to_string(::getpid())) /
                    "metrics.jsonl";
  std::filesystem::remove_all(path.parent_path());
  {
    MetricsLog log(path);
    log.write(10, "train", {{"loss", 1.25}, {"lr", 1e-3}});
  }
  {
    MetricsLog resumed(path);  // a resumed run appends to the same file
    resumed.write(20, "eval", {{"val_loss", NAN}});
  }
  std::ifstream in(path);
  std::string first, second;
  std::getline(in, first);
  std::getline(in, second);
  const auto a = nlohmann::json::parse(first), b = nlohmann::json::parse(second);
  EXPECT_EQ(a["step"], 10);
  EXPECT_EQ(a["event"], "train");
  EXPECT_DOUBLE_EQ(a["loss"].get<double>(), 1.25);
  EXPECT_EQ(b["step"], 20);
  EXPECT_TRUE(b["val_loss"].is_null());
  std::filesystem::remove_all(path.parent_path());
}

}  // namespace
}  // namespace qforge::trainers
