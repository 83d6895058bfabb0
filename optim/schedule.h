#pragma once
// Learning-rate schedules as multiplicative factors of the step, with torch.optim.lr_scheduler.
// LambdaLR semantics: optimizer step t (counted from 0) runs with lr = base_lr * factor(t), for
// every group, each relative to its own base lr. The formulas are those of Hugging Face
// transformers' get_constant_schedule_with_warmup and get_cosine_with_min_lr_schedule_with_warmup
// (num_cycles 0.5), with W warm-up steps, T total steps and r = min_lr / base_lr:
//   warm-up:  factor(t) = t / W                                         for t < W
//   constant: factor(t) = 1                                             for t >= W
//   cosine:   factor(t) = r + (1 - r) * 0.5 * (1 + cos(pi * q)),  q = min(1, (t - W) / max(1, T - W))
// so warm-up starts at 0 and the cosine reaches r at t = T and stays there (transformers lets
// the cosine rise again after T; we hold the floor).
#include <cstdint>

#include "optim/optimizer.h"

namespace qforge::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  // The multiplier of the base learning rate for optimizer step `step` (0 = the first step).
  virtual double factor(int64_t step) const = 0;
  double lr(int64_t step, double base_lr) const { return base_lr * factor(step); }
};

class ConstantSchedule : public LrSchedule {
 public:
  double factor(int64_t) const override { return 1.0; }
};

// Linear warm-up from 0 over warmup_steps, then constant.
class LinearWarmupSchedule : public LrSchedule {
 public:
  explicit LinearWarmupSchedule(int64_t warmup_steps);
  double factor(int64_t step) const override;

 private:
  int64_t warmup_steps_;
};

// Linear warm-up, then a half cosine from the base lr down to min_lr_ratio * base lr at total_steps.
class CosineSchedule : public LrSchedule {
 public:
  CosineSchedule(int64_t warmup_steps, int64_t total_steps, double min_lr_ratio = 0.0);
  double factor(int64_t step) const override;

 private:
  int64_t warmup_steps_, total_steps_;
  double min_lr_ratio_;
};

// Sets every group's lr for the optimizer's next step: base lr * schedule.factor(step_count()).
// Call it before each step(); it depends on the step count alone, so it resumes with load_state.
void apply_schedule(Optimizer& optimizer, const LrSchedule& schedule);

}  // namespace qforge::optim
