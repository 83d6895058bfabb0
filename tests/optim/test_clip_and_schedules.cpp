// clip_grad_norm against torch.nn.utils.clip_grad_norm_, and the LR schedules against
// torch.optim.lr_scheduler: LambdaLR running the transformers-style lambdas (written
// independently in Python) and, for a cosine without warm-up, PyTorch's own CosineAnnealingLR.
// One Python process answers both.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "optim/clip_grad_norm.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/optim/torch_runner.h"
#include "tests/support/error_of.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using namespace qforge::optim;

// ---- clip_grad_norm ----

struct ClipCase {
  std::string name;
  double max_norm;
  float grad_scale;  // gradients are scale * N(0, 1)
};

const std::vector<ClipCase> kClipCases = {
    {"clipped", 1.0, 1.0f},         // norm ~ 44, scaled down
    {"untouched", 100.0, 1.0f},     // norm below max_norm: gradients unchanged
    {"tiny_max", 1e-3, 10.0f},      // strong clipping
    {"large", 0.5, 1e3f},           // large gradients
};

const std::vector<Shape> kClipShapes = {Shape{3, 4}, Shape{5}, Shape{2, 2, 3}, Shape{2000}};

std::vector<Variable> clip_params(const ClipCase& c) {
  std::vector<Variable> params;
  for (size_t i = 0; i < kClipShapes.size(); ++i) {
    params.emplace_back(Tensor::zeros(kClipShapes[i]), true);
    params.back().add_grad(Tensor::randn(kClipShapes[i], 500 + i, c.grad_scale));
  }
  return params;
}

// ---- schedules ----

struct ScheduleCase {
  std::string name;
  std::string torch_make;  // Python expression over `opt` and `math`
  std::function<std::unique_ptr<LrSchedule>()> make;
  int steps;
};

// The Python lambdas restate the formulas of transformers' optimization.py independently.
const std::vector<ScheduleCase>& schedule_cases() {
  static const std::vector<ScheduleCase> cases = {
      {"constant", "torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)",
       [] { return std::make_unique<ConstantSchedule>(); }, 10},
      {"linear_warmup", "torch.optim.lr_scheduler.LambdaLR(opt, lambda t: t / max(1, 7) if t < 7 else 1.0)",
       [] { return std::make_unique<LinearWarmupSchedule>(7); }, 20},
      {"cosine_warmup_min",
       "torch.optim.lr_scheduler.LambdaLR(opt, lambda t: t / max(1, 5) if t < 5 else "
       "max(0.0, (0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * (t - 5) / max(1, 30 - 5)))) * (1 - 0.1) + 0.1))",
       [] { return std::make_unique<CosineSchedule>(5, 30, 0.1); }, 31},
      {"cosine_no_warmup_vs_annealing", "torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=25, eta_min=0.0)",
       [] { return std::make_unique<CosineSchedule>(0, 25, 0.0); }, 26},
  };
  return cases;
}

const std::vector<double> kBaseLrs = {0.1, 3e-4};  // two groups, each scaled from its own base

const TensorFile& torch_answers() {
  static const TensorFile answer = [] {
    TensorFile request;
    for (const ClipCase& c : kClipCases) {
      const std::string key = "clip/" + c.name + "/";
      request.put(key + "max_norm", {1}, {c.max_norm});
      const auto params = clip_params(c);
      for (size_t i = 0; i < params.size(); ++i) {
        const Tensor& g = params[i].grad();
        request.put(key + "g" + std::to_string(i), g.shape().to_vector(), {g.data(), g.data() + g.numel()});
      }
    }
    for (const ScheduleCase& c : schedule_cases()) {
      const std::string key = "sched/" + c.name + "/";
      request.put_text(key + "make", c.torch_make);
      request.put(key + "steps", {1}, {static_cast<double>(c.steps)});
      request.put(key + "base_lrs", {static_cast<int64_t>(kBaseLrs.size())}, kBaseLrs);
    }
    return run_torch_optim_reference(request, "clip_sched");
  }();
  return answer;
}

TEST(ClipGradNorm, MatchesTorch) {
  for (const ClipCase& c : kClipCases) {
    const auto params = clip_params(c);
    std::vector<std::vector<float>> before;
    for (const Variable& p : params) before.push_back(p.grad().to_vector());
    const double norm = clip_grad_norm(params, c.max_norm);
    const std::string key = "clip/" + c.name + "/";
    const double torch_norm = torch_answers().tensor(key + "norm").values[0];
    Discrepancy grads;
    for (size_t i = 0; i < params.size(); ++i) {
      const TensorRecord& theirs = torch_answers().tensor(key + "g" + std::to_string(i));
      for (size_t k = 0; k < theirs.values.size(); ++k) grads.add(params[i].grad().data()[k], theirs.values[k]);
    }
    const double norm_rel = std::abs(norm - torch_norm) / torch_norm;
    std::printf("[torch] clip %-10s norm %.6g (torch %.6g, rel %.1e)  grads max_abs %.2e max_scaled %.2e\n",
                c.name.c_str(), norm, torch_norm, norm_rel, grads.max_abs, grads.scaled);
    // torch sums float64 inputs here; ours sums float32 gradients in double: same to ~1e-15.
    EXPECT_LE(norm_rel, 1e-12) << c.name;
    EXPECT_LE(grads.scaled, 2e-7) << c.name << ": clipped gradients differ (ours scale in float32)";
    const bool clipped = c.max_norm < norm;
    EXPECT_EQ(params[0].grad().to_vector() != before[0], clipped) << c.name;
    if (clipped) {
      EXPECT_NEAR(grad_norm(params), c.max_norm, 1e-5 * c.max_norm) << c.name;
    }
  }
}

TEST(ClipGradNorm, SkipsParamsWithoutGradAndRejectsBadMaxNorm) {
  Variable with(Tensor::full(Shape{2}, 0.0f), true), without(Tensor::zeros(Shape{3}), true);
  with.add_grad(Tensor::from_vector(Shape{2}, {3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(clip_grad_norm({with, without}, 1.0), 5.0);
  EXPECT_NEAR(with.grad().data()[0], 0.6f, 1e-6);
  EXPECT_FALSE(without.has_grad());
  EXPECT_THAT(error_of([&] { clip_grad_norm({with}, -1.0); }), ::testing::HasSubstr("max_norm -1"));
}

TEST(ClipGradNorm, DoesNotTouchASharedGradientTensor) {
  // add_grad may keep the caller's tensor; clipping must not write through it.
  const Tensor shared = Tensor::from_vector(Shape{2}, {3.0f, 4.0f});
  Variable a(Tensor::zeros(Shape{2}), true), b(Tensor::zeros(Shape{2}), true);
  a.add_grad(shared);
  b.add_grad(shared);
  clip_grad_norm({a, b}, 1.0);
  EXPECT_EQ(shared.to_vector(), (std::vector<float>{3.0f, 4.0f}));
  EXPECT_NEAR(a.grad().data()[1], 4.0f / std::sqrt(50.0f), 1e-6);
}

TEST(Schedules, MatchLambdaLrAndCosineAnnealing) {
  for (const ScheduleCase& c : schedule_cases()) {
    std::vector<Variable> params{Variable(Tensor::zeros(Shape{1}), true), Variable(Tensor::zeros(Shape{1}), true)};
    Sgd sgd({ParamGroup({params[0]}, kBaseLrs[0]), ParamGroup({params[1]}, kBaseLrs[1])});
    const auto schedule = c.make();
    double worst = 0.0;
    for (int t = 0; t < c.steps; ++t) {
      apply_schedule(sgd, *schedule);
      for (size_t g = 0; g < kBaseLrs.size(); ++g) {
        const double theirs = torch_answers().tensor("sched/" + c.name + "/lr" + std::to_string(g)).values[t];
        worst = std::max(worst, std::abs(sgd.groups()[g].lr - theirs) / kBaseLrs[g]);
      }
      sgd.step();  // no gradients: advances the step count only
    }
    std::printf("[torch] schedule %-30s %d steps  max |lr - torch| / base_lr %.1e\n", c.name.c_str(), c.steps, worst);
    EXPECT_LE(worst, 1e-12) << c.name;
  }
}

TEST(Schedules, ClosedFormPoints) {
  const CosineSchedule cosine(10, 110, 0.2);
  EXPECT_DOUBLE_EQ(cosine.factor(0), 0.0);
  EXPECT_DOUBLE_EQ(cosine.factor(5), 0.5);
  EXPECT_DOUBLE_EQ(cosine.factor(10), 1.0);
  EXPECT_NEAR(cosine.factor(60), 0.2 + 0.8 * 0.5, 1e-15);  // half way down the cosine
  EXPECT_DOUBLE_EQ(cosine.factor(110), 0.2);
  EXPECT_DOUBLE_EQ(cosine.factor(500), 0.2);  // holds the floor after total_steps
  EXPECT_DOUBLE_EQ(LinearWarmupSchedule(0).factor(0), 1.0);
  EXPECT_DOUBLE_EQ(cosine.lr(10, 3e-4), 3e-4);
  EXPECT_THAT(error_of([] { CosineSchedule(10, 5); }), ::testing::HasSubstr("warmup_steps 10 and total_steps 5"));
  EXPECT_THAT(error_of([] { CosineSchedule(0, 5, 1.5); }), ::testing::HasSubstr("min_lr_ratio 1.5"));
}

}  // namespace
}  // namespace qforge::testing
