#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace qforge::optim {

namespace {

void check_step(const char* schedule, int64_t step) {
  if (step < 0) throw std::invalid_argument(std::string(schedule) + ": step " + std::to_string(step) + " is negative");
}

}  // namespace

LinearWarmupSchedule::LinearWarmupSchedule(int64_t warmup_steps) : warmup_steps_(warmup_steps) {
  if (warmup_steps < 0) {
    throw std::invalid_argument("LinearWarmupSchedule: warmup_steps " + std::to_string(warmup_steps) + " is negative");
  }
}

double LinearWarmupSchedule::factor(int64_t step) const {
  check_step("LinearWarmupSchedule", step);
  if (step < warmup_steps_) return static_cast<double>(step) / static_cast<double>(warmup_steps_);
  return 1.0;
}

CosineSchedule::CosineSchedule(int64_t warmup_steps, int64_t total_steps, double min_lr_ratio)
    : warmup_steps_(warmup_steps), total_steps_(total_steps), min_lr_ratio_(min_lr_ratio) {
  if (warmup_steps < 0 || total_steps < warmup_steps) {
    throw std::invalid_argument("CosineSchedule: need 0 <= warmup_steps <= total_steps, got warmup_steps " +
                                std::to_string(warmup_steps) + " and total_steps " + std::to_string(total_steps));
  }
  if (!(min_lr_ratio >= 0.0 && min_lr_ratio <= 1.0)) {
    throw std::invalid_argument("CosineSchedule: min_lr_ratio " + std::to_string(min_lr_ratio) + " is not in [0, 1]");
  }
}

double CosineSchedule::factor(int64_t step) const {
  check_step("CosineSchedule", step);
  if (step < warmup_steps_) return static_cast<double>(step) / static_cast<double>(warmup_steps_);
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps_) / span);
  return min_lr_ratio_ + (1.0 - min_lr_ratio_) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

void apply_schedule(Optimizer& optimizer, const LrSchedule& schedule) {
  optimizer.set_lr_scale(schedule.factor(optimizer.step_count()));
}

}  // namespace qforge::optim
