// The ptq/ registry and round to nearest: names and errors read the table; rtn calibrates every weight
// quantizer, lets the static activation quantizers observe exactly the calibration batches (and runs
// none when there is nothing to observe), and leaves every quantizer frozen with the ranges it saw.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "fakequant/qat.h"
#include "layers/activations.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "ptq/method.h"

namespace qforge::ptq {
namespace {

using ::testing::HasSubstr;
namespace ag = qforge::autograd;

std::shared_ptr<layers::Sequential> small_mlp() {
  auto net = std::make_shared<layers::Sequential>();
  net->push_back(std::make_shared<layers::Linear>(16, 8, true, 1));
  net->push_back(layers::make_activation(layers::Activation::kReLU));
  net->push_back(std::make_shared<layers::Linear>(8, 4, true, 2));
  return net;
}

ag::Tensor batch(int64_t b) {
  std::mt19937 rng(static_cast<unsigned>(b + 1));
  std::normal_distribution<float> normal(0.0f, 1.0f + static_cast<float>(b));  // later batches wider
  ag::Tensor t(ag::Shape{5, 16});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = normal(rng);
  return t;
}

TEST(PtqRegistry, NamesAndErrorsReadTheTable) {
  ASSERT_FALSE(methods().empty());
  EXPECT_EQ(find_method("rtn").name, "rtn");
  EXPECT_THAT(method_help(), HasSubstr("rtn: round to nearest"));
  try {
    find_method("gptqq");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown method 'gptqq' (expected one of: rtn"));
  }
  const MethodChoice plain = parse_method("rtn");
  EXPECT_EQ(plain.method->name, "rtn");
  EXPECT_EQ(plain.options, "");
  const MethodChoice with_options = parse_method("rtn:foo=1");
  EXPECT_EQ(with_options.options, "foo=1");
  auto net = small_mlp();
  EXPECT_THROW(with_options.method->quantize(*net, {}, with_options.options), std::invalid_argument);
}

TEST(PtqRtn, CalibratesWeightsAndObservesExactlyTheCalibrationBatches) {
  auto net = small_mlp();
  fakequant::QuantRule rule;
  rule.pattern = "*";
  rule.weight = fakequant::parse_scheme("int4:channel");
  rule.input = fakequant::parse_scheme("int8:tensor:asym");
  fakequant::prepare_qat(*net, {rule});
  net->eval();
  int64_t calls = 0;
  float lowest = 0.0f, highest = 0.0f;
  Calibration calibration;
  calibration.batches = 3;
  calibration.forward = [&](int64_t b) {
    EXPECT_EQ(b, calls++);
    const ag::Tensor x = batch(b);
    for (int64_t i = 0; i < x.numel(); ++i) lowest = std::min(lowest, x.data()[i]), highest = std::max(highest, x.data()[i]);
    net->forward(ag::Variable(x));
  };
  find_method("rtn").quantize(*net, calibration, "");
  EXPECT_EQ(calls, 3);
  for (const auto& [name, q] : fakequant::quantizers_of(*net)) {
    EXPECT_TRUE(q->frozen()) << name;
    EXPECT_FALSE(q->is_training()) << name;
    EXPECT_TRUE(q->initialized()) << name;
  }
  // The first layer's input quantizer saw the three batches: min-max, asymmetric int8 (256 levels).
  const auto quantizers = fakequant::quantizers_of(*net);
  const auto input = std::find_if(quantizers.begin(), quantizers.end(),
                                  [](const auto& q) { return q.first == "0.input_quantizer"; });
  ASSERT_NE(input, quantizers.end());
  const fakequant::QuantParams params = input->second->current_params();
  EXPECT_FLOAT_EQ(params.scales.at(0), (highest - lowest) / 255.0f);
  // convert() refuses uncalibrated activation quantizers; after rtn every one has its parameters.
  EXPECT_NO_THROW(fakequant::convert(*net));
}

TEST(PtqRtn, RunsNoBatchWhenOnlyWeightsAreQuantized) {
  auto net = small_mlp();
  fakequant::QuantRule rule;
  rule.pattern = "*";
  rule.weight = fakequant::parse_scheme("int8:channel");
  fakequant::prepare_qat(*net, {rule});
  Calibration calibration;
  calibration.batches = 4;
  calibration.forward = [](int64_t) { FAIL() << "no activation quantizer needs calibration"; };
  find_method("rtn").quantize(*net, calibration, "");
  for (const auto& [name, q] : fakequant::quantizers_of(*net)) EXPECT_TRUE(q->frozen()) << name;
}

}  // namespace
}  // namespace qforge::ptq
