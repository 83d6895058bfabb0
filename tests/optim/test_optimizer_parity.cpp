// Parameter trajectories of SGD, Adam and AdamW against torch.optim (PyTorch 1.13, float32) over
// 20 steps from the same initial parameters. Most cases feed both sides the same gradient
// sequence (seeded normals written from here); the "lsq" cases compute gradients of a fixed
// least-squares loss with autograd on both sides, so the gradients follow the parameters.
// One Python process answers every case.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>

#include "autograd/ops.h"
#include "optim/adam.h"
#include "optim/sgd.h"
#include "tests/optim/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using namespace qforge::optim;

constexpr int kSteps = 20;
// Both sides run float32; the operations differ only in rounding order (fused multiply-adds,
// Python-float scalars), so trajectories agree to a few float32 ulps per step.
constexpr double kTolerance = 2e-6;  // observed worst 2.5e-7

using Factory = std::function<std::unique_ptr<Optimizer>(const std::vector<Variable>&)>;

struct OptimCase {
  std::string name;
  std::string torch_ctor;  // Python expression over `params`
  Factory make;
  bool least_squares = false;  // gradients from the loss instead of the given sequence
  std::vector<size_t> frozen = {};  // requires_grad false
  // Param 1 gets no gradient on steps [5, 10): a skipped param keeps its own step count.
  bool gaps = false;
};

std::vector<OptimCase> optim_cases() {
  return {
      {"sgd_plain", "torch.optim.SGD(params, lr=0.1)",
       [](auto& p) { return std::make_unique<Sgd>(p, SgdOptions(0.1)); }},
      {"sgd_momentum_dampening_wd", "torch.optim.SGD(params, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)",
       [](auto& p) { return std::make_unique<Sgd>(p, SgdOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01)); }},
      {"sgd_nesterov_wd", "torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)",
       [](auto& p) { return std::make_unique<Sgd>(p, SgdOptions(0.05).momentum(0.9).nesterov(true).weight_decay(0.05)); }},
      {"sgd_groups",
       "torch.optim.SGD([{'params': params[:1], 'lr': 0.2}, {'params': params[1:], 'weight_decay': 0.1}], lr=0.03, "
       "momentum=0.8)",
       [](auto& p) {
         return std::make_unique<Sgd>(std::vector<ParamGroup>{ParamGroup({p[0]}, 0.2), ParamGroup({p[1], p[2]}, kFromOptions, 0.1)},
                                      SgdOptions(0.03).momentum(0.8));
       }},
      {"adam", "torch.optim.Adam(params, lr=1e-2)",
       [](auto& p) { return std::make_unique<Adam>(p, AdamOptions(1e-2)); }},
      {"adam_wd_betas_eps", "torch.optim.Adam(params, lr=1e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)",
       [](auto& p) { return std::make_unique<Adam>(p, AdamOptions(1e-2).beta1(0.8).beta2(0.99).eps(1e-6).weight_decay(0.1)); }},
      {"adam_groups",
       "torch.optim.Adam([{'params': params[:1], 'lr': 0.02}, {'params': params[1:], 'lr': 0.005, 'weight_decay': 0.1}])",
       [](auto& p) {
         return std::make_unique<Adam>(std::vector<ParamGroup>{ParamGroup({p[0]}, 0.02), ParamGroup({p[1], p[2]}, 0.005, 0.1)});
       }},
      {"adam_gaps_frozen", "torch.optim.Adam(params, lr=1e-2, weight_decay=0.01)",
       [](auto& p) { return std::make_unique<Adam>(p, AdamOptions(1e-2).weight_decay(0.01)); }, false, {2}, true},
      {"adamw_default_decay", "torch.optim.AdamW(params, lr=1e-2)",
       [](auto& p) { return std::make_unique<AdamW>(p, AdamWOptions(1e-2)); }},
      {"adamw_wd", "torch.optim.AdamW(params, lr=3e-2, betas=(0.85, 0.995), weight_decay=0.3)",
       [](auto& p) { return std::make_unique<AdamW>(p, AdamWOptions(3e-2).beta1(0.85).beta2(0.995).weight_decay(0.3)); }},
      {"adamw_lsq", "torch.optim.AdamW(params, lr=5e-2, weight_decay=0.1)",
       [](auto& p) { return std::make_unique<AdamW>(p, AdamWOptions(5e-2).weight_decay(0.1)); }, true},
      {"sgd_nesterov_lsq", "torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True)",
       [](auto& p) { return std::make_unique<Sgd>(p, SgdOptions(0.1).momentum(0.9).nesterov(true)); }, true},
  };
}

std::vector<double> as_doubles(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

uint64_t seed_of(const std::string& name, uint64_t salt) { return (std::hash<std::string>{}(name) ^ salt) & 0xffffffffu; }

// Least squares: X [8, 4] @ W [4, 3] + b [3] against Y [8, 3]. Given-gradient cases use three
// parameters of mixed rank.
std::vector<Shape> param_shapes(const OptimCase& c) {
  if (c.least_squares) return {Shape{4, 3}, Shape{3}};
  return {Shape{4, 5}, Shape{7}, Shape{2, 3}};
}

Tensor given_gradient(const OptimCase& c, int step, size_t i, const Shape& shape) {
  return Tensor::randn(shape, seed_of(c.name, 1000 + 10 * step + i));
}

bool has_given_gradient(const OptimCase& c, int step, size_t i) {
  return !(c.gaps && i == 1 && step >= 5 && step < 10);
}

bool is_frozen(const OptimCase& c, size_t i) { return std::find(c.frozen.begin(), c.frozen.end(), i) != c.frozen.end(); }

// Runs the case here: trajectory[step][param].
std::vector<std::vector<Tensor>> run_ours(const OptimCase& c) {
  std::vector<Variable> params;
  const std::vector<Shape> shapes = param_shapes(c);
  for (size_t i = 0; i < shapes.size(); ++i) {
    params.emplace_back(Tensor::randn(shapes[i], seed_of(c.name, i)), !is_frozen(c, i));
  }
  const Variable X(Tensor::randn(Shape{8, 4}, seed_of(c.name, 77))), Y(Tensor::randn(Shape{8, 3}, seed_of(c.name, 78)));
  std::unique_ptr<Optimizer> optimizer = c.make(params);
  std::vector<std::vector<Tensor>> trajectory;
  for (int t = 0; t < kSteps; ++t) {
    optimizer->zero_grad();
    if (c.least_squares) {
      autograd::mse_loss(autograd::matmul(X, params[0]) + params[1], Y).backward();
    } else {
      for (size_t i = 0; i < params.size(); ++i) {
        if (!is_frozen(c, i) && has_given_gradient(c, t, i)) params[i].add_grad(given_gradient(c, t, i, shapes[i]));
      }
    }
    optimizer->step();
    trajectory.emplace_back();
    for (const Variable& p : params) trajectory.back().push_back(p.data().clone());
  }
  return trajectory;
}

void write_request(const OptimCase& c, TensorFile& request) {
  const std::string key = "optim/" + c.name + "/";
  const std::vector<Shape> shapes = param_shapes(c);
  request.put_text(key + "ctor", c.torch_ctor);
  request.put(key + "steps", {1}, {static_cast<double>(kSteps)});
  for (size_t i = 0; i < shapes.size(); ++i) {
    request.put(key + "p" + std::to_string(i), shapes[i].to_vector(), as_doubles(Tensor::randn(shapes[i], seed_of(c.name, i))));
    if (is_frozen(c, i)) request.put(key + "frozen" + std::to_string(i), {1}, {1.0});
  }
  if (c.least_squares) {
    request.put(key + "lsq/X", {8, 4}, as_doubles(Tensor::randn(Shape{8, 4}, seed_of(c.name, 77))));
    request.put(key + "lsq/Y", {8, 3}, as_doubles(Tensor::randn(Shape{8, 3}, seed_of(c.name, 78))));
    return;
  }
  for (int t = 0; t < kSteps; ++t) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (is_frozen(c, i) || !has_given_gradient(c, t, i)) continue;
      request.put(key + "g" + std::to_string(t) + "/" + std::to_string(i), shapes[i].to_vector(),
                  as_doubles(given_gradient(c, t, i, shapes[i])));
    }
  }
}

const TensorFile& torch_answers() {
  static const TensorFile answer = [] {
    TensorFile request;
    for (const OptimCase& c : optim_cases()) write_request(c, request);
    return run_torch_optim_reference(request, "parity");
  }();
  return answer;
}

class OptimizerParity : public ::testing::TestWithParam<size_t> {};

TEST_P(OptimizerParity, TrajectoryMatchesTorch) {
  const OptimCase c = optim_cases()[GetParam()];
  const auto trajectory = run_ours(c);
  Discrepancy d;
  double moved = 0.0;  // how far the parameters travelled, so a no-op optimiser cannot pass
  for (int t = 0; t < kSteps; ++t) {
    for (size_t i = 0; i < trajectory[t].size(); ++i) {
      const TensorRecord& theirs = torch_answers().tensor("optim/" + c.name + "/p" + std::to_string(i) + "/t" + std::to_string(t));
      ASSERT_EQ(theirs.values.size(), static_cast<size_t>(trajectory[t][i].numel()));
      for (size_t k = 0; k < theirs.values.size(); ++k) {
        d.add(trajectory[t][i].data()[k], theirs.values[k]);
        if (t == kSteps - 1) moved = std::max(moved, std::abs(double(trajectory[t][i].data()[k]) - trajectory[0][i].data()[k]));
      }
    }
  }
  std::printf("[torch] %-28s %d steps  max_abs %.2e  max_scaled %.2e  (moved %.3f)\n", c.name.c_str(), kSteps,
              d.max_abs, d.scaled, moved);
  EXPECT_LE(d.scaled, kTolerance) << c.name << ": trajectory differs from torch.optim";
  EXPECT_GT(moved, 1e-3) << c.name << ": parameters barely moved, the comparison says little";
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) { return optim_cases()[info.param].name; }

INSTANTIATE_TEST_SUITE_P(Optim, OptimizerParity, ::testing::Range<size_t>(0, optim_cases().size()), case_name);

}  // namespace
}  // namespace qforge::testing
