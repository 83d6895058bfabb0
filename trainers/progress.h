#pragma once
// Training progress: a redrawn one-line bar on a terminal, plain log lines otherwise (CI logs,
// pipes), so both a person watching and a log reader get something useful.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace qforge::trainers {

class ProgressReporter {
 public:
  // `total_steps` of training; `unit` names the throughput ("samples", "tokens").
  // `interactive` defaults to whether `out` is a terminal.
  ProgressReporter(int64_t total_steps, std::string unit, FILE* out = stdout);
  ProgressReporter(int64_t total_steps, std::string unit, FILE* out, bool interactive);

  // Reports step `step` (1-based) after `items` more samples/tokens were processed.
  // Plain mode prints a line only every `log_every` steps and at the last step.
  void update(int64_t step, double loss, int64_t items, int64_t log_every);
  // A message that must not be overwritten by the bar (evaluation results, checkpoints).
  void message(const std::string& text);
  void finish();

  double items_per_second() const;
  static std::string format_duration(double seconds);  // "1:05" or "1:02:03"

 private:
  std::string status_line(int64_t step, double loss) const;

  int64_t total_steps_;
  std::string unit_;
  FILE* out_;
  bool interactive_;
  bool bar_drawn_ = false;
  int64_t items_ = 0;
  int64_t first_step_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace qforge::trainers
