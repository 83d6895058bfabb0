// LLM.int8() through the ptq/ registry (ptq/llm_int8.h) on a tiny Llama: the method names its input scheme,
// quantizes with int8 per-channel weights and leaves every quantizer frozen; a threshold above every value is
// plain vector-wise int8 (round to nearest with int8:token inputs, bit for bit) and a threshold below every
// value sends every column to FP16 (int8 weights with fp16 inputs, bit for bit); the outlier fractions it
// counts are 0% and 100% there and in between otherwise; wrong rules and options are refused by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "fakequant/qat.h"
#include "layers/llama.h"
#include "tests/support/tiny_llama.h"
#include "ptq/llm_int8.h"

namespace qforge::ptq {
namespace {

namespace ag = qforge::autograd;
using ::testing::HasSubstr;

layers::LlamaConfig tiny_config() { return testing::tiny_llama_config(9); }

ag::IndexTensor tokens(int64_t rows, unsigned seed) { return testing::tiny_llama_tokens(rows, seed); }

Calibration calibration_of(layers::LlamaForCausalLM& model) {
  Calibration c;
  c.batches = 3;
  c.forward = [&model](int64_t b) { model.forward(tokens(4, 50 + static_cast<unsigned>(b))); };
  return c;
}

std::vector<float> logits(layers::LlamaForCausalLM& model) {
  ag::NoGradGuard no_grad;
  return model.forward(tokens(4, 3)).data().to_vector();
}

// A tiny Llama with `weight` / `input` schemes on every layer but the embedding and lm_head, in eval mode.
std::unique_ptr<layers::LlamaForCausalLM> prepared(const std::string& weight, const std::string& input) {
  auto model = std::make_unique<layers::LlamaForCausalLM>(tiny_config());
  fakequant::QuantRule all{"*", fakequant::parse_scheme(weight), fakequant::parse_scheme(input), false};
  fakequant::prepare_qat(*model, {fakequant::QuantRule{"lm_head", std::nullopt, std::nullopt, true},
                                  fakequant::QuantRule{"model.embed_tokens", std::nullopt, std::nullopt, true}, all});
  model->eval();
  return model;
}

// The model quantized by the registry's llm_int8 with `options`.
std::unique_ptr<layers::LlamaForCausalLM> llm_int8(const std::string& options) {
  const Method& method = find_method("llm_int8");
  auto model = prepared("int8:channel", method.input_scheme(options));
  method.quantize(*model, calibration_of(*model), options);
  return model;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double mse = 0, signal = 0;
  for (size_t i = 0; i < a.size(); ++i) mse += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]), signal += b[i] * static_cast<double>(b[i]);
  return mse / signal;
}

TEST(LlmInt8Method, IsRegisteredWithItsInputScheme) {
  const Method& method = find_method("llm_int8");
  ASSERT_NE(method.input_scheme, nullptr);
  EXPECT_EQ(method.input_scheme(""), "int8:token:outlier6");
  EXPECT_EQ(method.input_scheme("threshold=2.5"), "int8:token:outlier2.5");
  EXPECT_EQ(find_method("gptq").input_scheme, nullptr) << "only methods defined by their input format name one";
  EXPECT_THAT(method_help(), HasSubstr("llm_int8: LLM.int8()"));
  for (const char* bad : {"threshold=0", "threshold=-1", "threshold=", "threshold=6x", "alpha=0.5"}) {
    EXPECT_THAT([&] { (void)method.input_scheme(bad); },
                ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("is not one of threshold=<number> (t > 0)")))
        << bad;
  }
}

TEST(LlmInt8Method, ThresholdsAtTheExtremesAreTheTwoPlainFormats) {
  layers::LlamaForCausalLM reference(tiny_config());
  reference.eval();
  const std::vector<float> float_logits = logits(reference);

  // Above every value: no outliers, i.e. vector-wise int8 = round to nearest with int8:token inputs.
  auto none = llm_int8("threshold=1e9");
  auto rtn = prepared("int8:channel", "int8:token");
  find_method("rtn").quantize(*rtn, calibration_of(*rtn), "");
  for (const auto& [name, q] : fakequant::quantizers_of(*none)) EXPECT_TRUE(q->frozen()) << name;
  EXPECT_EQ(logits(*none), logits(*rtn));

  // Below every nonzero value: every column in FP16, i.e. int8 weights with fp16 inputs.
  auto all = llm_int8("threshold=1e-30");
  auto fp16 = prepared("int8:channel", "fp16");
  find_method("rtn").quantize(*fp16, calibration_of(*fp16), "");
  EXPECT_EQ(logits(*all), logits(*fp16));

  auto six = llm_int8("threshold=3");
  const double e_none = relative_error(logits(*none), float_logits), e_six = relative_error(logits(*six), float_logits),
               e_all = relative_error(logits(*all), float_logits);
  std::printf("logits relative squared error vs float: threshold 1e9 %.3g, 3 %.3g, 1e-30 %.3g\n", e_none, e_six, e_all);
  EXPECT_LT(e_all, e_six);
  EXPECT_LT(e_six, e_none);
  EXPECT_LT(e_none, 1e-2);
}

TEST(LlmInt8Method, CountsOutlierColumnsPerLayer) {
  for (const auto& [options, low, high] : {std::tuple{"threshold=1e9", 0.0, 0.0}, std::tuple{"threshold=1e-30", 100.0, 100.0},
                                          std::tuple{"threshold=3", 1.0, 99.0}}) {
    auto model = llm_int8(options);
    const std::vector<OutlierColumns> counts = count_outlier_columns(*model, calibration_of(*model));
    ASSERT_EQ(counts.size(), 2u * 7u) << "one entry per quantized Linear";
    double sum = 0;
    for (const OutlierColumns& c : counts) {
      EXPECT_EQ(c.forwards, 3) << c.layer;
      EXPECT_EQ(c.columns, c.layer.find("down_proj") != std::string::npos ? 48 : 32) << c.layer;
      EXPECT_LE(c.mean_percent, c.max_percent) << c.layer;
      sum += c.mean_percent;
      std::printf("%s %-36s %5.1f%% (max %5.1f%%)\n", options, c.layer.c_str(), c.mean_percent, c.max_percent);
    }
    const double mean = sum / static_cast<double>(counts.size());
    EXPECT_GE(mean, low) << options;
    EXPECT_LE(mean, high) << options;
    EXPECT_EQ(fakequant::quantizers_of(*model).size(), 2u * 2u * 7u) << "the quantizers are back in place";
  }
}

TEST(LlmInt8Method, RefusesOtherRules) {
  const Method& method = find_method("llm_int8");
  auto int4 = prepared("int4:channel", "int8:token:outlier6");
  EXPECT_THAT([&] { method.quantize(*int4, calibration_of(*int4), ""); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("is not int8 symmetric per output channel")));
  auto grouped = prepared("int8:g16", "int8:token:outlier6");
  EXPECT_THAT([&] { method.quantize(*grouped, calibration_of(*grouped), ""); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("is not int8 symmetric per output channel")));
  auto plain = prepared("int8:channel", "int8:token");
  EXPECT_THAT([&] { method.quantize(*plain, calibration_of(*plain), ""); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("is not the method's int8:token:outlier6")));
  auto other = prepared("int8:channel", "int8:token:outlier6");
  EXPECT_THAT([&] { method.quantize(*other, calibration_of(*other), "threshold=3"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("is not the method's int8:token:outlier3")));
}

}  // namespace
}  // namespace qforge::ptq
