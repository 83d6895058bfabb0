#include "trainers/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace qforge::trainers {

namespace {
constexpr int kBarWidth = 24;
}

ProgressReporter::ProgressReporter(int64_t total_steps, std::string unit, FILE* out)
    : ProgressReporter(total_steps, std::move(unit), out, ::isatty(::fileno(out)) != 0) {}

ProgressReporter::ProgressReporter(int64_t total_steps, std::string unit, FILE* out, bool interactive)
    : total_steps_(std::max<int64_t>(total_steps, 1)),
      unit_(std::move(unit)),
      out_(out),
      interactive_(interactive),
      start_(std::chrono::steady_clock::now()) {}

double ProgressReporter::items_per_second() const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return seconds > 0.0 ? static_cast<double>(items_) / seconds : 0.0;
}

std::string ProgressReporter::format_duration(double seconds) {
  const auto total = static_cast<int64_t>(std::max(0.0, std::round(seconds)));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  }
  return text;
}

std::string ProgressReporter::status_line(int64_t step, double loss) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step - first_step_ + 1;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_steps_ - step) : 0.0;
  char text[160];
  std::snprintf(text, sizeof text, "step %lld/%lld loss %.4f %.0f %s/s elapsed %s eta %s",
                static_cast<long long>(step), static_cast<long long>(total_steps_), loss, items_per_second(),
                unit_.c_str(), format_duration(elapsed).c_str(), format_duration(eta).c_str());
  return text;
}

void ProgressReporter::update(int64_t step, double loss, int64_t items, int64_t log_every) {
  if (first_step_ < 0) first_step_ = step;
  items_ += items;
  if (interactive_) {
    const int filled = static_cast<int>(kBarWidth * step / total_steps_);
    std::fprintf(out_, "\r[%s%s] %s\033[K", std::string(filled, '#').c_str(),
                 std::string(kBarWidth - filled, '.').c_str(), status_line(step, loss).c_str());
    bar_drawn_ = true;
  } else if (step % std::max<int64_t>(log_every, 1) == 0 || step == total_steps_) {
    std::fprintf(out_, "%s\n", status_line(step, loss).c_str());
  }
  std::fflush(out_);
}

void ProgressReporter::message(const std::string& text) {
  if (bar_drawn_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s\n", text.c_str());
  bar_drawn_ = false;
  std::fflush(out_);
}

void ProgressReporter::finish() {
  if (bar_drawn_) std::fprintf(out_, "\n");
  bar_drawn_ = false;
  std::fflush(out_);
}

}  // namespace qforge::trainers
