// Checkpointing: state() + step_counts() taken mid-run and loaded into a fresh optimiser over
// fresh parameters continues bit for bit like the uninterrupted run (with a schedule, parameter
// groups, a frozen parameter and a parameter that misses gradients for a while); load_state
// rejects malformed state with errors that name the entry.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>

#include "autograd/ops.h"
#include "optim/adam.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/support/error_of.h"

namespace qforge::optim {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using testing::error_of;
using ::testing::HasSubstr;

using Factory = std::function<std::unique_ptr<Optimizer>(const std::vector<Variable>&)>;

constexpr int kSteps = 24, kSplit = 11;

// Least squares X W + b ~ Y; params: W [6, 4], b [4], an unused [3] (never gets a gradient)
// and a frozen [2].
struct Trainer {
  std::vector<Variable> params;
  Variable X{Tensor::randn(Shape{16, 6}, 1)}, Y{Tensor::randn(Shape{16, 4}, 2)};

  explicit Trainer(const std::vector<Tensor>& initial) {
    for (size_t i = 0; i < initial.size(); ++i) params.emplace_back(initial[i].clone(), i != 3);
  }
  void step(Optimizer& optimizer, const LrSchedule& schedule) {
    const int64_t t = optimizer.step_count();
    optimizer.zero_grad();
    // b sits out steps 4..7: its per-parameter step count falls behind the global one.
    Variable out = autograd::matmul(X, params[0]);
    if (t < 4 || t >= 8) out = out + params[1];
    autograd::mse_loss(out, Y).backward();
    apply_schedule(optimizer, schedule);
    optimizer.step();
  }
};

std::vector<Tensor> initial_params() {
  return {Tensor::randn(Shape{6, 4}, 3), Tensor::randn(Shape{4}, 4), Tensor::randn(Shape{3}, 5),
          Tensor::randn(Shape{2}, 6)};
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

void expect_resume_is_bit_identical(const Factory& make) {
  const CosineSchedule schedule(3, kSteps, 0.1);
  Trainer straight(initial_params());
  auto uninterrupted = make(straight.params);
  for (int t = 0; t < kSteps; ++t) straight.step(*uninterrupted, schedule);

  Trainer first(initial_params());
  auto before = make(first.params);
  for (int t = 0; t < kSplit; ++t) first.step(*before, schedule);
  const NamedTensors saved = before->state();
  const NamedCounts counts = before->step_counts();
  std::vector<Tensor> checkpoint;
  for (const Variable& p : first.params) checkpoint.push_back(p.data().clone());
  for (int t = kSplit; t < kSteps; ++t) first.step(*before, schedule);  // saved copies must not change

  Trainer resumed(checkpoint);
  auto after = make(resumed.params);
  after->load_state(saved, counts);
  EXPECT_EQ(after->step_count(), kSplit);
  for (int t = kSplit; t < kSteps; ++t) resumed.step(*after, schedule);

  for (size_t i = 0; i < straight.params.size(); ++i) {
    EXPECT_TRUE(bit_equal(resumed.params[i].data(), straight.params[i].data())) << "param " << i;
    EXPECT_TRUE(bit_equal(first.params[i].data(), straight.params[i].data())) << "param " << i;
  }
  EXPECT_FALSE(bit_equal(straight.params[0].data(), initial_params()[0]));
  const NamedTensors end_state = after->state(), straight_state = uninterrupted->state();
  ASSERT_EQ(end_state.size(), straight_state.size());
  for (size_t i = 0; i < end_state.size(); ++i) {
    EXPECT_EQ(end_state[i].first, straight_state[i].first);
    EXPECT_TRUE(bit_equal(end_state[i].second, straight_state[i].second)) << end_state[i].first;
  }
  EXPECT_EQ(after->step_counts(), uninterrupted->step_counts());
}

TEST(OptimizerState, AdamResumesBitIdentically) {
  expect_resume_is_bit_identical([](const std::vector<Variable>& p) {
    return std::make_unique<Adam>(std::vector<ParamGroup>{ParamGroup({p[0], p[3]}, 2e-2), ParamGroup({p[1], p[2]}, 5e-3, 0.1)});
  });
}

TEST(OptimizerState, AdamWResumesBitIdentically) {
  expect_resume_is_bit_identical([](const std::vector<Variable>& p) {
    return std::make_unique<AdamW>(p, AdamWOptions(3e-2).weight_decay(0.1));
  });
}

TEST(OptimizerState, SgdMomentumResumesBitIdentically) {
  expect_resume_is_bit_identical([](const std::vector<Variable>& p) {
    return std::make_unique<Sgd>(p, SgdOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(1e-3));
  });
}

TEST(OptimizerState, NamesAndCounts) {
  Trainer run(initial_params());
  Adam adam(std::vector<ParamGroup>{ParamGroup({run.params[0]}), ParamGroup({run.params[1], run.params[2], run.params[3]})});
  for (int t = 0; t < 5; ++t) run.step(adam, ConstantSchedule());
  std::vector<std::string> names;
  for (const auto& [name, tensor] : adam.state()) names.push_back(name + tensor.shape().to_string());
  // The unused (no gradient) and frozen parameters have no state.
  EXPECT_THAT(names, ::testing::ElementsAre("group0.param0.exp_avg[6, 4]", "group0.param0.exp_avg_sq[6, 4]",
                                            "group1.param0.exp_avg[4]", "group1.param0.exp_avg_sq[4]"));
  EXPECT_EQ(adam.step_counts(), (NamedCounts{{"step", 5}, {"group0.param0.step", 5}, {"group1.param0.step", 4}}));
}

TEST(OptimizerState, LoadStateRejectsMalformedState) {
  Trainer run(initial_params());
  Adam adam(run.params);
  for (int t = 0; t < 2; ++t) run.step(adam, ConstantSchedule());
  const NamedTensors good = adam.state();
  const NamedCounts counts = adam.step_counts();
  auto load = [&](NamedTensors tensors, NamedCounts c) { return error_of([&] { adam.load_state(tensors, c); }); };

  NamedTensors renamed = good;
  renamed[0].first = "group0.param9.exp_avg";
  EXPECT_THAT(load(renamed, counts), HasSubstr("Adam: load_state: tensor 'group0.param9.exp_avg' names param 9 but group 0 has 4 params"));
  renamed[0].first = "group1.param0.exp_avg";
  EXPECT_THAT(load(renamed, counts), HasSubstr("names group 1 but the optimiser has 1 groups"));
  renamed[0].first = "group0.param0.momentum_buffer";
  EXPECT_THAT(load(renamed, counts), HasSubstr("Adam has no buffer 'momentum_buffer' (expected one of: exp_avg, exp_avg_sq)"));
  renamed[0].first = "weights.exp_avg";
  EXPECT_THAT(load(renamed, counts), HasSubstr("'weights.exp_avg' is not named group<g>.param<p>.<name>"));

  NamedTensors reshaped = good;
  reshaped[1].second = Tensor::zeros(Shape{4, 6});
  EXPECT_THAT(load(reshaped, counts), HasSubstr("tensor 'group0.param0.exp_avg_sq' has shape [4, 6] but the parameter has shape [6, 4]"));
  EXPECT_THAT(load({good[0]}, counts), HasSubstr("tensor 'group0.param0.exp_avg_sq' is missing"));
  EXPECT_THAT(load(good, {{"step", 2}}), HasSubstr("buffers for 'group0.param0.' but no count 'group0.param0.step'"));
  EXPECT_THAT(load(good, {counts[1], counts[2]}), HasSubstr("count 'step' is missing"));
  NamedTensors twice = good;
  twice.push_back(good[0]);
  EXPECT_THAT(load(twice, counts), HasSubstr("tensor 'group0.param0.exp_avg' appears twice"));

  // A failed load leaves the optimiser as it was.
  EXPECT_EQ(adam.step_count(), 2);
  EXPECT_EQ(adam.state().size(), good.size());
  EXPECT_TRUE(bit_equal(adam.state()[0].second, good[0].second));
}

TEST(OptimizerState, StateIsACopy) {
  Trainer run(initial_params());
  Sgd sgd(run.params, SgdOptions(0.1).momentum(0.9));
  run.step(sgd, ConstantSchedule());
  const NamedTensors saved = sgd.state();
  const Tensor before = saved[0].second.clone();
  run.step(sgd, ConstantSchedule());
  EXPECT_TRUE(bit_equal(saved[0].second, before));
}

}  // namespace
}  // namespace qforge::optim
