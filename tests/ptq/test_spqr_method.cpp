// SpQR on a whole (tiny) Llama through the ptq registry: every projection's weight quantizer becomes a
// fakequant::SpqrWeightQuantizer whose forward is the stored (latent) weight, outliers stay at or
// under the requested fraction per layer, the model's logits are closer to the float model's than
// round to nearest's, and a state dict saved and loaded into a freshly prepared model (the path
// `qforge eval` takes: prepare_qat from the rules, then install_saved_weight_quantizers) gives the same
// logits bit for bit. Unknown options are refused by name.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "fakequant/qat.h"
#include "fakequant/saved_weight_quantizers.h"
#include "fakequant/spqr_weight.h"
#include "layers/linear.h"
#include "layers/llama.h"
#include "tests/support/tiny_llama.h"
#include "ptq/method.h"

namespace qforge::ptq {
namespace {

namespace ag = qforge::autograd;

layers::LlamaConfig tiny_config() { return testing::tiny_llama_config(5); }

ag::IndexTensor tokens(int64_t rows, unsigned seed) { return testing::tiny_llama_tokens(rows, seed); }

std::vector<fakequant::QuantRule> rules(const std::string& scheme) {
  return {{"lm_head", std::nullopt, std::nullopt, true},
          {"model.embed_tokens", std::nullopt, std::nullopt, true},
          {"*", fakequant::parse_scheme(scheme), std::nullopt, false}};
}

std::shared_ptr<layers::LlamaForCausalLM> prepared(const std::string& scheme) {
  auto model = std::make_shared<layers::LlamaForCausalLM>(tiny_config());
  fakequant::prepare_qat(*model, rules(scheme));
  model->eval();
  return model;
}

std::shared_ptr<layers::LlamaForCausalLM> quantized(const std::string& method, const std::string& scheme) {
  auto model = prepared(scheme);
  Calibration calibration;
  calibration.batches = 4;
  calibration.forward = [&](int64_t b) { model->forward(tokens(8, 100 + static_cast<unsigned>(b))); };
  const MethodChoice choice = parse_method(method);
  choice.method->quantize(*model, calibration, choice.options);
  return model;
}

std::vector<float> logits(layers::LlamaForCausalLM& model) {
  ag::NoGradGuard no_grad;
  return model.forward(tokens(8, 7)).data().to_vector();
}

double logit_error(layers::LlamaForCausalLM& model, layers::LlamaForCausalLM& reference) {
  const std::vector<float> a = logits(model), b = logits(reference);
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i) total += (a[i] - b[i]) * static_cast<double>(a[i] - b[i]);
  return total / static_cast<double>(a.size());
}

TEST(SpqrMethod, SpqrWeightsCloserThanRoundToNearestAndReloadedExactly) {
  layers::LlamaForCausalLM reference(tiny_config());
  reference.eval();
  const std::string scheme = "int3:g16:asym";
  auto spqr = quantized("spqr:outlier_fraction=0.02,block=32", scheme);
  int64_t layers_seen = 0, outliers = 0, weights = 0;
  for (const auto& [name, module] : spqr->named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear || name == "lm_head") continue;
    auto q = std::dynamic_pointer_cast<fakequant::SpqrWeightQuantizer>(linear->weight_quantizer());
    ASSERT_TRUE(q) << name << " has no SpQR weight quantizer";
    const ag::Tensor& latent = linear->weight().data();
    EXPECT_EQ(q->forward(ag::Variable(latent)).data().to_vector(), latent.to_vector()) << name;
    const fakequant::SpqrState s = q->state();
    EXPECT_EQ(s.layout.bits, 3);
    EXPECT_LE(static_cast<double>(s.outliers.size()), 0.02 * static_cast<double>(latent.numel())) << name;
    outliers += static_cast<int64_t>(s.outliers.size()), weights += latent.numel(), ++layers_seen;
  }
  EXPECT_EQ(layers_seen, 2 * 7);
  EXPECT_GT(outliers, weights / 200);  // the search finds outliers (more than 0.5% overall)

  const double e_spqr = logit_error(*spqr, reference), e_rtn = logit_error(*quantized("rtn", scheme), reference),
               e_none = logit_error(*quantized("spqr:outlier_fraction=0", scheme), reference),
               e_gptq = logit_error(*quantized("gptq:act_order", scheme), reference);
  std::printf("%s logit MSE vs float: SpQR 2%% outliers %.4g, SpQR no outliers %.4g, GPTQ act-order %.4g, round to nearest %.4g\n",
              scheme.c_str(), e_spqr, e_none, e_gptq, e_rtn);
  EXPECT_LT(e_spqr, e_rtn);
  EXPECT_LT(e_spqr, e_none);

  auto reloaded = prepared(scheme);
  const layers::StateDict state = spqr->state_dict();
  EXPECT_EQ(fakequant::install_saved_weight_quantizers(*reloaded, state.buffers), 2 * 7);
  reloaded->load_state_dict(state);
  EXPECT_EQ(logits(*reloaded), logits(*spqr));
}

TEST(SpqrMethod, RefusesUnknownOptions) {
  EXPECT_THAT([] { quantized("spqr:outlier=0.01", "int3:g16"); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("option 'outlier=0.01' is not one of")));
  EXPECT_THAT([] { quantized("spqr", "fp8_e4m3:channel"); },
              ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("ptq spqr: model.layers.0.self_attn.q_proj: weight scheme")));
}

}  // namespace
}  // namespace qforge::ptq
