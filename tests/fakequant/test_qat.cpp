// prepare_qat / convert / Quantizer: rules and globs, the forward a prepared layer computes, learned
// scales, observers in train and eval mode, freezing, state round trips, and convert's codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "autograd/ops.h"
#include "fakequant/qat.h"
#include "fakequant/value_grid.h"
#include "layers/activations.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/llama.h"

namespace qforge::fakequant {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = normal(rng);
  return t;
}

std::shared_ptr<layers::Sequential> small_mlp() {
  auto net = std::make_shared<layers::Sequential>();
  net->push_back(std::make_shared<layers::Linear>(64, 32, true, 1));
  net->push_back(layers::make_activation(layers::Activation::kReLU));
  net->push_back(std::make_shared<layers::Linear>(32, 10, true, 2));
  return net;
}

QuantRule weight_rule(const std::string& pattern, const std::string& scheme) {
  QuantRule rule;
  rule.pattern = pattern;
  rule.weight = parse_scheme(scheme);
  return rule;
}

TEST(GlobMatch, StarCrossesDotsAndQuestionMarkIsOneCharacter) {
  EXPECT_TRUE(glob_match("*", "model.layers.0.mlp.up_proj"));
  EXPECT_TRUE(glob_match("*.mlp.*", "model.layers.3.mlp.down_proj"));
  EXPECT_FALSE(glob_match("*.mlp.*", "model.layers.3.self_attn.q_proj"));
  EXPECT_TRUE(glob_match("model.layers.?.self_attn.[qk]_proj", "model.layers.2.self_attn.k_proj"));
  EXPECT_FALSE(glob_match("model.layers.?.self_attn.[qk]_proj", "model.layers.2.self_attn.v_proj"));
  EXPECT_FALSE(glob_match("lm_head", "lm_head.weight"));
}

TEST(PrepareQat, FirstMatchingRuleWinsAndSkipKeepsFloat) {
  auto net = small_mlp();
  QuantRule skip;
  skip.pattern = "2";
  skip.skip = true;
  const auto prepared = prepare_qat(*net, {skip, weight_rule("*", "int4:channel")});
  ASSERT_EQ(prepared.size(), 1u);
  EXPECT_EQ(prepared[0].name, "0");
  auto first = std::dynamic_pointer_cast<layers::Linear>(net->named_children()[0].second);
  auto last = std::dynamic_pointer_cast<layers::Linear>(net->named_children()[2].second);
  EXPECT_NE(first->weight_quantizer(), nullptr);
  EXPECT_EQ(last->weight_quantizer(), nullptr);
  std::vector<std::string> names;
  for (const auto& [name, p] : net->named_parameters()) names.push_back(name);
  EXPECT_THAT(names, testing::Contains("0.weight_quantizer.scale"));
}

TEST(PrepareQat, RuleMatchingNothingAndMisfitSpecsAreErrors) {
  auto net = small_mlp();
  EXPECT_THAT([&] { prepare_qat(*net, {weight_rule("*.mlp.*", "int4")}); },
              testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("rule '*.mlp.*' matches no")));
  auto other = small_mlp();
  // 64 and 32 inputs are not divisible by 48.
  EXPECT_THAT([&] { prepare_qat(*other, {weight_rule("*", "int4:g48")}); },
              testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("group size 48")));
  auto twice = small_mlp();
  prepare_qat(*twice, {weight_rule("*", "int8")});
  EXPECT_THROW(prepare_qat(*twice, {weight_rule("*", "int8")}), std::logic_error);
}

TEST(PreparedLinear, ForwardUsesFakeQuantizedWeightAndInput) {
  layers::Linear linear(64, 16, true, 7);
  QuantRule rule = weight_rule("*", "int4:channel");
  rule.input = parse_scheme("int8:tensor:asym");
  prepare_qat(linear, {rule});
  const Tensor x = random_tensor(Shape{5, 64}, 3);
  const Variable y = linear.forward(Variable(x));
  // Reference: int_quantizer's per-channel weight and per-tensor input fake quantization.
  const IntFormat w4{4, true}, a8{8, false};
  const Tensor w = fake_quantize(linear.weight().data(), compute_scales(linear.weight().data(), w4, GranularitySpec::per_channel(0)),
                                 w4, GranularitySpec::per_channel(0));
  const Tensor xq = fake_quantize(x, compute_scales(x, a8, GranularitySpec::per_tensor()), a8, GranularitySpec::per_tensor());
  const Variable expected = autograd::add(autograd::matmul(Variable(xq), Variable(w), false, true), linear.bias());
  for (int64_t i = 0; i < y.numel(); ++i) ASSERT_FLOAT_EQ(y.data().data()[i], expected.data().data()[i]) << i;
}

TEST(Convert, CodesDequantizeToExactlyWhatTheForwardUsed) {
  for (const std::string scheme : {"int4:channel", "int3:g16:asym", "nf4:g32", "fp8_e4m3:tensor", "int4:g16:dq6", "ternary:g16"}) {
    layers::Linear linear(64, 8, false, 11);
    prepare_qat(linear, {weight_rule("*", scheme)});
    const Variable fq = linear.weight_quantizer()->forward(linear.weight());
    const ConvertedModel converted = convert(linear);
    ASSERT_EQ(converted.weights.size(), 1u);
    EXPECT_EQ(converted.weights[0].name, "weight");
    const Tensor back = dequantize_tensor(converted.weights[0].tensor);
    for (int64_t i = 0; i < back.numel(); ++i) ASSERT_EQ(back.data()[i], fq.data().data()[i]) << scheme << " at " << i;
  }
}

TEST(Quantizer, ActivationObserverLearnsInTrainingOnlyAndFreezes) {
  QuantizerSpec spec = parse_scheme("int8:tensor:asym:minmax");
  spec.observer.freeze_after_steps = 2;
  Quantizer q(spec, QuantizerRole::kActivation, Shape{1, 4}, "act");
  q.forward(Variable(random_tensor(Shape{8, 4}, 1, 1.0f)));
  const float first = q.current_params().scales[0];
  q.eval();
  q.forward(Variable(random_tensor(Shape{8, 4}, 2, 10.0f)));
  EXPECT_EQ(q.current_params().scales[0], first) << "eval mode must not observe";
  q.train();
  q.forward(Variable(random_tensor(Shape{8, 4}, 3, 10.0f)));
  const float second = q.current_params().scales[0];
  EXPECT_GT(second, first * 3);
  EXPECT_TRUE(q.frozen());
  q.forward(Variable(random_tensor(Shape{8, 4}, 4, 100.0f)));
  EXPECT_EQ(q.current_params().scales[0], second) << "frozen after 2 steps";
  EXPECT_EQ(q.observed_steps(), 2);
}

TEST(Quantizer, EvaluatingBeforeCalibrationIsAnError) {
  Quantizer q(parse_scheme("int8:tensor"), QuantizerRole::kActivation, Shape{1, 4}, "act");
  q.eval();
  EXPECT_THAT([&] { q.forward(Variable(random_tensor(Shape{2, 4}, 1))); },
              testing::ThrowsMessage<std::logic_error>(testing::HasSubstr("quantizer act")));
}

TEST(Quantizer, LsqScaleReceivesGradientAndStateRoundTrips) {
  layers::Linear linear(32, 8, false, 5);
  prepare_qat(linear, {weight_rule("*", "int4:channel:lsq")});
  const Tensor x = random_tensor(Shape{4, 32}, 9);
  Variable loss = autograd::sum(autograd::mul(linear.forward(Variable(x)), linear.forward(Variable(x))));
  loss.backward();
  const auto params = linear.named_parameters();
  const Variable scale = std::find_if(params.begin(), params.end(), [](auto& p) { return p.first == "weight_quantizer.scale"; })->second;
  ASSERT_TRUE(scale.requires_grad());
  double grad_norm = 0.0;
  for (int64_t i = 0; i < scale.numel(); ++i) grad_norm += std::fabs(scale.grad().data()[i]);
  EXPECT_GT(grad_norm, 0.0);

  layers::Linear copy(32, 8, false, 99);
  prepare_qat(copy, {weight_rule("*", "int4:channel:lsq")});
  copy.load_state_dict(linear.state_dict());
  linear.eval(), copy.eval();
  const Tensor a = linear.forward(Variable(x)).data(), b = copy.forward(Variable(x)).data();
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]);
}

TEST(Quantizer, LearnedScalesPushedThroughZeroAreProjectedBack) {
  layers::Linear linear(16, 4, false, 5);
  prepare_qat(linear, {weight_rule("*", "int4:channel:lsq")});
  const Tensor x = random_tensor(Shape{2, 16}, 9);
  linear.forward(Variable(x));  // initialises the scales
  Variable scale = linear.named_parameters()[1].second;
  ASSERT_EQ(linear.named_parameters()[1].first, "weight_quantizer.scale");
  scale.mutable_data().data()[2] = -0.01f;  // what a too large optimizer step does
  scale.mutable_data().data()[3] = NAN;
  const Tensor y = linear.forward(Variable(x)).data();
  EXPECT_EQ(scale.data().data()[2], kMinScale);
  EXPECT_EQ(scale.data().data()[3], kMinScale);
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_TRUE(std::isfinite(y.data()[i]));
}

TEST(PrepareQat, LlamaRulesFollowHuggingFaceNames) {
  layers::LlamaConfig config;
  config.vocab_size = 40;
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.intermediate_size = 64;
  config.max_position_embeddings = 16;
  layers::LlamaForCausalLM model(config);
  QuantRule skip_head{"lm_head", std::nullopt, std::nullopt, true};
  QuantRule skip_embed{"model.embed_tokens.weight", std::nullopt, std::nullopt, true};
  QuantRule mlp = weight_rule("*.mlp.*", "int3:g32");
  QuantRule rest = weight_rule("*", "int4:g32");
  const auto prepared = prepare_qat(model, {skip_head, skip_embed, mlp, rest});
  ASSERT_EQ(prepared.size(), 2u * 7u);  // q, k, v, o, gate, up, down per layer
  for (const PreparedLayer& layer : prepared) {
    const bool in_mlp = layer.name.find(".mlp.") != std::string::npos;
    EXPECT_EQ(layer.weight->bits, in_mlp ? 3 : 4) << layer.name;
  }
  const autograd::IndexTensor ids(Shape{1, 5}, std::vector<int64_t>{1, 2, 3, 4, 5});
  const Variable logits = model.forward(ids);
  EXPECT_EQ(logits.shape(), (Shape{1, 5, 40}));
  const ConvertedModel converted = convert(model);
  EXPECT_EQ(converted.weights.size(), 14u);
  EXPECT_EQ(converted.weights[0].name, "model.layers.0.self_attn.q_proj.weight");
}

}  // namespace
}  // namespace qforge::fakequant
