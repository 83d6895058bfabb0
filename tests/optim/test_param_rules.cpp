// Which parameters an optimiser touches, option defaults and validation, closed-form updates,
// and the OpenMP path agreeing bit for bit with the serial one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "optim/adam.h"
#include "optim/sgd.h"
#include "tests/support/error_of.h"

namespace qforge::optim {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using testing::error_of;
using ::testing::HasSubstr;

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()) == 0;
}

TEST(ParamRules, FrozenAndGradlessParamsAreUntouched) {
  Variable trained(Tensor::randn(Shape{3, 2}, 1), true);
  Variable frozen(Tensor::randn(Shape{4}, 2), true);
  Variable gradless(Tensor::randn(Shape{5}, 3), true);
  const Tensor frozen_before = frozen.data().clone(), gradless_before = gradless.data().clone();
  const Tensor trained_before = trained.data().clone();
  AdamW adamw({trained, frozen, gradless}, AdamWOptions(0.1).weight_decay(0.5));
  for (int t = 0; t < 3; ++t) {
    trained.add_grad(Tensor::full(Shape{3, 2}, 1.0f));
    frozen.add_grad(Tensor::full(Shape{4}, 1.0f));
    frozen.set_requires_grad(false);  // frozen after it got a gradient: still skipped
    adamw.step();
    frozen.set_requires_grad(true);
    adamw.zero_grad();
    frozen.zero_grad();
  }
  frozen.set_requires_grad(false);
  EXPECT_TRUE(bit_equal(frozen.data(), frozen_before));
  EXPECT_TRUE(bit_equal(gradless.data(), gradless_before));  // not even weight decay
  EXPECT_FALSE(bit_equal(trained.data(), trained_before));
  EXPECT_EQ(adamw.state().size(), 2u);  // exp_avg and exp_avg_sq of `trained` only
  EXPECT_EQ(adamw.step_count(), 3);
}

TEST(ParamRules, ZeroGradDropsEveryGradient) {
  Variable a(Tensor::zeros(Shape{2}), true), b(Tensor::zeros(Shape{2}), true);
  Sgd sgd(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({b})});
  a.add_grad(Tensor::full(Shape{2}, 1.0f));
  b.add_grad(Tensor::full(Shape{2}, 1.0f));
  sgd.zero_grad();
  EXPECT_FALSE(a.has_grad());
  EXPECT_FALSE(b.has_grad());
}

TEST(ParamRules, OptionDefaultsAndGroupInheritance) {
  EXPECT_EQ(AdamOptions().lr(), 1e-3);
  EXPECT_EQ(AdamOptions().beta1(), 0.9);
  EXPECT_EQ(AdamOptions().beta2(), 0.999);
  EXPECT_EQ(AdamOptions().eps(), 1e-8);
  EXPECT_EQ(AdamOptions().weight_decay(), 0.0);
  EXPECT_EQ(AdamWOptions().weight_decay(), 1e-2);
  EXPECT_EQ(SgdOptions().momentum(), 0.0);
  EXPECT_EQ(SgdOptions().dampening(), 0.0);
  EXPECT_FALSE(SgdOptions().nesterov());
  const AdamOptions chained = AdamOptions().lr(0.5).beta1(0.7).weight_decay(0.2);
  EXPECT_EQ(chained.lr(), 0.5);
  EXPECT_EQ(chained.beta1(), 0.7);

  Variable a(Tensor::zeros(Shape{1}), true), b(Tensor::zeros(Shape{1}), true);
  Adam adam(std::vector<ParamGroup>{ParamGroup({a}, 0.3), ParamGroup({b}, kFromOptions, 0.4)}, AdamOptions(0.01).weight_decay(0.02));
  EXPECT_EQ(adam.groups()[0].lr, 0.3);
  EXPECT_EQ(adam.groups()[0].weight_decay, 0.02);
  EXPECT_EQ(adam.groups()[1].lr, 0.01);
  EXPECT_EQ(adam.groups()[1].weight_decay, 0.4);
  adam.set_lr_scale(0.5);
  EXPECT_EQ(adam.groups()[0].lr, 0.15);
  EXPECT_EQ(adam.groups()[1].lr, 0.005);
  EXPECT_EQ(adam.base_lrs(), (std::vector<double>{0.3, 0.01}));
}

TEST(ParamRules, InvalidOptionsAreRejectedWithTheirValues) {
  Variable a(Tensor::zeros(Shape{1}), true);
  EXPECT_THAT(error_of([&] { Sgd({a}, SgdOptions(0.1).nesterov(true)); }),
              HasSubstr("SGD: Nesterov needs momentum > 0 and dampening 0, got momentum 0.000000"));
  EXPECT_THAT(error_of([&] { Adam({a}, AdamOptions().beta2(1.0)); }), HasSubstr("Adam: beta2 1.000000 is not in [0, 1)"));
  EXPECT_THAT(error_of([&] { AdamW({a}, AdamWOptions(-1.0)); }), HasSubstr("AdamW: group 0: lr -1.000000 is not a finite value >= 0"));
  EXPECT_THAT(error_of([&] { Adam(std::vector<ParamGroup>{ParamGroup({a}), ParamGroup({a})}); }),
              HasSubstr("Adam: group 1: param 0 appears more than once"));
  EXPECT_THAT(error_of([&] { Sgd({a}, SgdOptions(0.1).momentum(-0.5)); }), HasSubstr("SGD: momentum -0.500000 is negative"));
}

// With a zero gradient Adam's update vanishes (m = v = 0 -> 0 / eps), so AdamW only decays:
// p_t = p_0 * (1 - lr * wd)^t.
TEST(ParamRules, AdamWDecayIsDecoupled) {
  Variable p(Tensor::full(Shape{3}, 2.0f), true);
  AdamW adamw({p}, AdamWOptions(0.1).weight_decay(0.5));
  for (int t = 0; t < 4; ++t) {
    adamw.zero_grad();
    p.add_grad(Tensor::zeros(Shape{3}));
    adamw.step();
  }
  EXPECT_NEAR(p.data().data()[0], 2.0 * std::pow(0.95, 4), 1e-6);
  // Adam's L2 decay instead passes through the normalisation: the first step moves by ~lr.
  Variable q(Tensor::full(Shape{1}, 2.0f), true);
  Adam adam({q}, AdamOptions(0.1).weight_decay(0.5));
  q.add_grad(Tensor::zeros(Shape{1}));
  adam.step();
  EXPECT_NEAR(q.data().item(), 1.9, 1e-6);
}

// A tensor above the OpenMP threshold updated in one call equals the same values updated in
// serial chunks: the update is per element, whatever the thread count.
TEST(ParamRules, ParallelUpdateMatchesSerialChunks) {
  constexpr int64_t kN = 100000, kChunk = 1000;
  Variable whole(Tensor::randn(Shape{kN}, 7), true);
  std::vector<Variable> chunks;
  for (int64_t c = 0; c < kN / kChunk; ++c) {
    chunks.emplace_back(Tensor::from_vector(Shape{kChunk}, {whole.data().data() + c * kChunk, whole.data().data() + (c + 1) * kChunk}), true);
  }
  AdamW big({whole}, AdamWOptions(0.01));
  AdamW small(chunks, AdamWOptions(0.01));
  for (int t = 0; t < 3; ++t) {
    const Tensor g = Tensor::randn(Shape{kN}, 100 + t);
    whole.add_grad(g);
    for (int64_t c = 0; c < kN / kChunk; ++c) {
      chunks[c].add_grad(Tensor::from_vector(Shape{kChunk}, {g.data() + c * kChunk, g.data() + (c + 1) * kChunk}));
    }
    big.step();
    small.step();
    big.zero_grad();
    small.zero_grad();
  }
  for (int64_t c = 0; c < kN / kChunk; ++c) {
    ASSERT_EQ(std::memcmp(chunks[c].data().data(), whole.data().data() + c * kChunk, sizeof(float) * kChunk), 0) << "chunk " << c;
  }
}

}  // namespace
}  // namespace qforge::optim
