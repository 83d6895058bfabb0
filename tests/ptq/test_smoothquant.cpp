// SmoothQuant (ptq/smoothquant.h): the factors follow eq. 4; folding them into the norms and the
// projections leaves the float model's function unchanged; the activation maxima are the float model's
// even when quantizers are installed; and the registry method quantizes a Llama W8A8 closely.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "fakequant/qat.h"
#include "tests/support/tiny_llama.h"
#include "ptq/smoothquant.h"

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

TEST(SmoothQuant, FactorsFollowEquationFour) {
  const std::vector<float> s = smoothing_factors({4.0f, 0.25f, 0.0f}, {1.0f, 4.0f, 2.0f}, 0.5);
  EXPECT_FLOAT_EQ(s[0], 2.0f);                                 // sqrt(4) / sqrt(1)
  EXPECT_FLOAT_EQ(s[1], 0.25f);                                // sqrt(0.25) / sqrt(4)
  EXPECT_FLOAT_EQ(s[2], static_cast<float>(std::sqrt(1e-5) / std::sqrt(2.0)));  // a dead channel: max clamped to 1e-5
  EXPECT_FLOAT_EQ(smoothing_factors({9.0f}, {3.0f}, 0.75)[0], static_cast<float>(std::pow(9.0, 0.75) / std::pow(3.0, 0.25)));
}

TEST(SmoothQuant, FoldingKeepsTheFloatFunction) {
  layers::LlamaForCausalLM model(tiny_config());
  model.eval();
  const std::vector<float> before = logits(model);
  const LlamaSmoothingStatistics stats = collect_smoothing_statistics(model, calibration_of(model));
  const float gamma = model.model()->layer(0)->input_layernorm()->weight().data().data()[0];
  smooth_llama(model, stats, 0.5);
  EXPECT_NE(model.model()->layer(0)->input_layernorm()->weight().data().data()[0], gamma) << "nothing was smoothed";
  const std::vector<float> after = logits(model);
  double worst = 0, scale = 0;
  for (size_t i = 0; i < before.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(after[i]) - before[i])), scale = std::max(scale, std::abs(static_cast<double>(before[i])));
  std::printf("smoothed vs original logits: max abs diff %.3g (max |logit| %.3g)\n", worst, scale);
  EXPECT_LT(worst, 1e-5 * (1 + scale));
}

TEST(SmoothQuant, StatisticsAreTheFloatModels) {
  layers::LlamaForCausalLM plain(tiny_config()), quantized(tiny_config());
  fakequant::QuantRule all{"*", fakequant::parse_scheme("int2:channel"), fakequant::parse_scheme("int8:token"), false};
  fakequant::prepare_qat(quantized, {fakequant::QuantRule{"lm_head", std::nullopt, std::nullopt, true},
                                     fakequant::QuantRule{"model.embed_tokens", std::nullopt, std::nullopt, true}, all});
  plain.eval(), quantized.eval();
  const auto a = collect_smoothing_statistics(plain, calibration_of(plain));
  const auto b = collect_smoothing_statistics(quantized, calibration_of(quantized));
  EXPECT_EQ(a.attention_input, b.attention_input);
  EXPECT_EQ(a.mlp_input, b.mlp_input);
  EXPECT_EQ(fakequant::quantizers_of(quantized).size(), 2u * 2u * 7u) << "the quantizers are back in place";
}

TEST(SmoothQuant, W8A8ThroughTheRegistry) {
  layers::LlamaForCausalLM reference(tiny_config()), model(tiny_config());
  reference.eval();
  fakequant::QuantRule all{"*", fakequant::parse_scheme("int8:channel"), fakequant::parse_scheme("int8:token"), false};
  fakequant::prepare_qat(model, {fakequant::QuantRule{"lm_head", std::nullopt, std::nullopt, true},
                                 fakequant::QuantRule{"model.embed_tokens", std::nullopt, std::nullopt, true}, all});
  model.eval();
  const MethodChoice choice = parse_method("smoothquant:alpha=0.5");
  choice.method->quantize(model, calibration_of(model), choice.options);
  for (const auto& [name, q] : fakequant::quantizers_of(model)) EXPECT_TRUE(q->frozen()) << name;
  const std::vector<float> a = logits(model), b = logits(reference);
  double mse = 0, signal = 0;
  for (size_t i = 0; i < a.size(); ++i) mse += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]), signal += b[i] * static_cast<double>(b[i]);
  std::printf("W8A8 SmoothQuant logits: relative squared error %.3g\n", mse / signal);
  EXPECT_LT(mse / signal, 1e-2);  // 8-bit weights and per-token activations on a random tiny model
  EXPECT_THAT([&] { choice.method->quantize(model, calibration_of(model), "alpha=2"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("option 'alpha=2' is not one of alpha=<number> (alpha in [0, 1])")));
}

}  // namespace
}  // namespace qforge::ptq
