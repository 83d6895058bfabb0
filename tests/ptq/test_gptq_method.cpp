// GPTQ on a whole (tiny) Llama through the ptq registry: every projection ends on its quantizer's grid
// with GPTQ's scales (the stored weight is what the forward computes, and convert() dequantizes to it),
// every quantizer is frozen, and the quantized model's logits are closer to the float model's than round
// to nearest's at 3 bits. Act-order with dynamic groups installs a fakequant::GroupIndexWeightQuantizer
// that reloads bit for bit. Options and schemes GPTQ cannot take are refused by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "autograd/ops.h"
#include "fakequant/group_index_weight.h"
#include "fakequant/saved_weight_quantizers.h"
#include "fakequant/qat.h"
#include "layers/linear.h"
#include "layers/llama.h"
#include "tests/support/tiny_llama.h"
#include "ptq/method.h"

namespace qforge::ptq {
namespace {

namespace ag = qforge::autograd;
using ::testing::HasSubstr;

layers::LlamaConfig tiny_config() { return testing::tiny_llama_config(5); }

ag::IndexTensor tokens(int64_t rows, unsigned seed) { return testing::tiny_llama_tokens(rows, seed); }

std::vector<fakequant::QuantRule> rules(const std::string& scheme, bool quantize_head = false) {
  fakequant::QuantRule skip_head{"lm_head", std::nullopt, std::nullopt, true};
  fakequant::QuantRule skip_embedding{"model.embed_tokens", std::nullopt, std::nullopt, true};
  fakequant::QuantRule all{"*", fakequant::parse_scheme(scheme), std::nullopt, false};
  if (quantize_head) return {skip_embedding, all};
  return {skip_head, skip_embedding, all};
}

// A model with quantizers, quantized by `method` on 4 calibration batches of 8 sequences; with
// `streamed`, the calibration also offers its token ids (decoder layers one at a time).
std::shared_ptr<layers::LlamaForCausalLM> quantized(const std::string& method, const std::string& scheme,
                                                    bool streamed = false, bool quantize_head = false) {
  auto model = std::make_shared<layers::LlamaForCausalLM>(tiny_config());
  fakequant::prepare_qat(*model, rules(scheme, quantize_head));
  model->eval();
  Calibration calibration;
  calibration.batches = 4;
  calibration.forward = [&](int64_t b) { model->forward(tokens(8, 100 + static_cast<unsigned>(b))); };
  if (streamed) calibration.token_ids = [](int64_t b) { return tokens(8, 100 + static_cast<unsigned>(b)); };
  const MethodChoice choice = parse_method(method);
  choice.method->quantize(*model, calibration, choice.options);
  return model;
}

double logit_error(layers::LlamaForCausalLM& model, layers::LlamaForCausalLM& reference) {
  ag::NoGradGuard no_grad;
  const ag::IndexTensor held_out = tokens(8, 7);
  const ag::Tensor a = model.forward(held_out).data(), b = reference.forward(held_out).data();
  double total = 0;
  for (int64_t i = 0; i < a.numel(); ++i) total += (a.data()[i] - b.data()[i]) * static_cast<double>(a.data()[i] - b.data()[i]);
  return total / static_cast<double>(a.numel());
}

TEST(GptqMethod, WeightsOnTheGridAndCloserThanRoundToNearest) {
  layers::LlamaForCausalLM reference(tiny_config());
  reference.eval();
  for (const std::string scheme : {"int3:g16", "int3:g16:asym"}) {
    auto gptq = quantized("gptq", scheme);
    auto gptq_act = quantized("gptq:act_order,damp=0.02,block=16", scheme);
    auto rtn = quantized("rtn", scheme);
    auto gptq_grid_rtn = quantized("gptq:rtn", scheme);  // no feedback: round to nearest on GPTQ's grid
    int64_t checked = 0;
    for (const auto& [name, quantizer] : fakequant::quantizers_of(*gptq)) {
      EXPECT_TRUE(quantizer->frozen()) << name;
    }
    const fakequant::ConvertedModel converted = fakequant::convert(*gptq);
    const auto parameters = gptq->named_parameters();
    for (const fakequant::ConvertedWeight& w : converted.weights) {
      const ag::Tensor dequantized = fakequant::dequantize_tensor(w.tensor);
      const ag::Tensor& stored = std::find_if(parameters.begin(), parameters.end(), [&](const auto& p) { return p.first == w.name; })->second.data();
      ASSERT_EQ(dequantized.to_vector(), stored.to_vector()) << w.name;
      ++checked;
    }
    EXPECT_EQ(checked, 2 * 7);
    const double e_gptq = logit_error(*gptq, reference), e_act = logit_error(*gptq_act, reference),
                 e_rtn = logit_error(*rtn, reference);
    std::printf("%s logit MSE vs float: GPTQ %.4g, GPTQ act-order %.4g, round to nearest %.4g\n", scheme.c_str(), e_gptq,
                e_act, e_rtn);
    const double e_grid_rtn = logit_error(*gptq_grid_rtn, reference);
    std::printf("%s logit MSE vs float, round to nearest on GPTQ's grid: %.4g\n", scheme.c_str(), e_grid_rtn);
    EXPECT_LT(e_gptq, e_grid_rtn) << scheme;
    // The asymmetric grids agree (scale (max - min) / maxq, zero round(-min / scale)); the symmetric
    // ones do not (GPTQ: max / (2^(b-1) - 0.5), the quantizer's own observer: max / (2^(b-1) - 1)).
    if (scheme.find("asym") != std::string::npos) EXPECT_NEAR(e_grid_rtn, e_rtn, 1e-6 * e_rtn) << scheme;
    EXPECT_LT(e_gptq, e_rtn) << scheme;
    EXPECT_LT(e_act, e_rtn) << scheme;
  }
}

TEST(GptqMethod, StreamingTheDecoderLayersGivesTheSameWeights) {
  // One embedding pass and each layer on stored hidden states must see the very inputs the full-model
  // passes give each subset: the weights agree to the bit (lm_head, outside the layers, included).
  for (const std::string method : {"gptq", "gptq:act_order", "gptq:act_order,dynamic_groups"}) {
    (void)quantized(method, "int3:channel");  // act-order on one scale per row: no groups to keep static
    auto full = quantized(method, "int3:g16", false, true), streamed = quantized(method, "int3:g16", true, true);
    const auto a = full->named_parameters(), b = streamed->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].second.data().to_vector(), b[i].second.data().to_vector()) << method << " " << a[i].first;
    EXPECT_EQ(full->state_dict().buffers, streamed->state_dict().buffers) << method;  // g_idx and zeros too
  }
}

TEST(GptqMethod, DynamicGroupsInstallAGroupIndexQuantizerThatReloadsExactly) {
  // act_order,dynamic_groups: every projection's weight quantizer becomes a GroupIndexWeightQuantizer
  // whose forward is the stored weight; its g_idx is the act-order one (scattered groups); the model
  // beats round to nearest; convert() refuses it by name; a state dict loaded into a freshly prepared
  // model (the path of `qforge eval`) gives the same logits bit for bit.
  layers::LlamaForCausalLM reference(tiny_config());
  reference.eval();
  const std::string scheme = "int3:g16:asym";
  auto dynamic = quantized("gptq:act_order,dynamic_groups", scheme);
  int64_t layers_seen = 0, scattered = 0;
  for (const auto& [name, module] : dynamic->named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear || name == "lm_head") continue;
    auto q = std::dynamic_pointer_cast<fakequant::GroupIndexWeightQuantizer>(linear->weight_quantizer());
    ASSERT_TRUE(q) << name << " has no group-index weight quantizer";
    const ag::Tensor& latent = linear->weight().data();
    EXPECT_EQ(q->forward(ag::Variable(latent)).data().to_vector(), latent.to_vector()) << name;
    const fakequant::GroupIndexState s = q->state();
    EXPECT_EQ(s.bits, 3);
    EXPECT_EQ(s.group_size, 16);
    for (int64_t c = 0; c < s.cols; ++c) scattered += s.g_idx[c] != c / 16;
    ++layers_seen;
  }
  EXPECT_EQ(layers_seen, 2 * 7);
  EXPECT_GT(scattered, 0);
  const double e_dynamic = logit_error(*dynamic, reference), e_static = logit_error(*quantized("gptq:act_order", scheme), reference),
               e_rtn = logit_error(*quantized("rtn", scheme), reference);
  std::printf("%s logit MSE vs float: GPTQ act-order dynamic groups %.4g, static groups %.4g, round to nearest %.4g\n",
              scheme.c_str(), e_dynamic, e_static, e_rtn);
  EXPECT_LT(e_dynamic, e_rtn);
  EXPECT_NE(e_dynamic, e_static);  // a different quantization, not the static one under another name
  EXPECT_THAT([&] { fakequant::convert(*dynamic); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("convert: model.layers.0.self_attn.q_proj.weight: its weight quantizer")));

  auto reloaded = std::make_shared<layers::LlamaForCausalLM>(tiny_config());
  fakequant::prepare_qat(*reloaded, rules(scheme));
  reloaded->eval();
  const layers::StateDict state = dynamic->state_dict();
  EXPECT_EQ(fakequant::install_saved_weight_quantizers(*reloaded, state.buffers), 2 * 7);
  reloaded->load_state_dict(state);
  ag::NoGradGuard no_grad;
  const std::vector<float> logits = dynamic->forward(tokens(8, 7)).data().to_vector();
  EXPECT_EQ(reloaded->forward(tokens(8, 7)).data().to_vector(), logits);
  // dynamic_groups implies act_order (the spelling without a comma, for `--set methods=...` lists).
  EXPECT_EQ(quantized("gptq:dynamic_groups", scheme)->forward(tokens(8, 7)).data().to_vector(), logits);
}

TEST(GptqMethod, RefusesWhatItCannotQuantize) {
  EXPECT_THAT([] { quantized("gptq", "fp8_e4m3:channel"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("model.layers.0.self_attn.q_proj: weight scheme")));
  EXPECT_THAT([] { quantized("gptq:dampp=1", "int4:g16"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("option 'dampp=1' is not one of")));
  EXPECT_THAT([] { quantized("gptq", "int4:tensor"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("per output channel or per group")));
}

}  // namespace
}  // namespace qforge::ptq
