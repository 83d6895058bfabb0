// A tiny Llama against a self-contained float64 PyTorch re-implementation of Hugging Face's
// LlamaForCausalLM (tests/layers/llama_reference.py) with the same weights: logits, loss and the
// gradient of the loss w.r.t. every parameter, for tied and untied embeddings. The reference
// loads our state dict with strict=True, so the parameter names must be HF's; its
// named_parameters() order must equal ours.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "autograd/ops.h"
#include "layers/llama.h"
#include "tests/layers/random_weights.h"
#include "tests/support/tensor_file.h"
#include "tests/support/torch_runner.h"

namespace qforge::testing {
namespace {

using autograd::IndexTensor;
using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using layers::LlamaConfig;
using layers::LlamaForCausalLM;

// Weights: tests/layers/random_weights.h (O(1) activations, not HF's near-uniform 0.02 init).

// float32 against float64 through two layers; worst values seen are printed by the test.
constexpr double kLogitTolerance = 1e-4;  // max abs, as the brief asks
constexpr double kGradTolerance = 1e-5;   // max abs; loss is a mean over 18 tokens, grads are O(1e-2)
constexpr int64_t kBatch = 2, kSeq = 9;

LlamaConfig tiny_config(bool tied) {
  LlamaConfig c;
  c.vocab_size = 61;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 48;
  c.max_position_embeddings = 64;
  c.rope_theta = 10000.0f;
  c.rms_norm_eps = 1e-5f;
  c.tie_word_embeddings = tied;
  c.seed = tied ? 7 : 8;
  return c;
}

std::vector<double> as_doubles(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

IndexTensor random_ids(int64_t count, int64_t high, uint64_t seed, const Shape& shape) {
  const Tensor u = Tensor::uniform(Shape{count}, 0.0f, static_cast<float>(high), seed);
  std::vector<int64_t> ids(count);
  for (int64_t i = 0; i < count; ++i) ids[i] = std::min<int64_t>(high - 1, static_cast<int64_t>(u.data()[i]));
  return IndexTensor(shape, ids);
}

double max_abs_diff(const Tensor& ours, const TensorRecord& theirs) {
  EXPECT_EQ(ours.shape().to_vector(), theirs.dims);
  double worst = 0.0;
  for (int64_t i = 0; i < ours.numel() && i < static_cast<int64_t>(theirs.values.size()); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(ours.data()[i]) - theirs.values[i]));
  }
  return worst;
}

struct Case {
  std::string name;
  std::shared_ptr<LlamaForCausalLM> model;
  IndexTensor ids, targets;
};

void put_case(TensorFile& request, const Case& c) {
  const LlamaConfig& cfg = c.model->config();
  const auto put_scalar = [&](const std::string& field, double v) { request.put(c.name + "/config/" + field, {}, {v}); };
  put_scalar("vocab_size", cfg.vocab_size);
  put_scalar("hidden_size", cfg.hidden_size);
  put_scalar("num_hidden_layers", cfg.num_hidden_layers);
  put_scalar("num_attention_heads", cfg.num_attention_heads);
  put_scalar("num_key_value_heads", cfg.num_key_value_heads);
  put_scalar("intermediate_size", cfg.intermediate_size);
  put_scalar("max_position_embeddings", cfg.max_position_embeddings);
  put_scalar("rope_theta", cfg.rope_theta);
  put_scalar("rms_norm_eps", cfg.rms_norm_eps);
  put_scalar("tie_word_embeddings", cfg.tie_word_embeddings ? 1.0 : 0.0);
  for (const auto& [name, p] : c.model->named_parameters()) {
    request.put(c.name + "/w/" + name, p.shape().to_vector(), as_doubles(p.data()));
  }
  std::vector<double> ids(c.ids.data(), c.ids.data() + c.ids.numel());
  std::vector<double> targets(c.targets.data(), c.targets.data() + c.targets.numel());
  request.put(c.name + "/ids", c.ids.shape().to_vector(), ids);
  request.put(c.name + "/targets", c.targets.shape().to_vector(), targets);
}

Case make_case(const std::string& name, bool tied) {
  Case c;
  c.name = name;
  c.model = std::make_shared<LlamaForCausalLM>(tiny_config(tied));
  randomise_parameters(*c.model, tied ? 101 : 202);
  c.ids = random_ids(kBatch * kSeq, 61, tied ? 11 : 12, Shape{kBatch, kSeq});
  c.targets = random_ids(kBatch * kSeq, 61, tied ? 13 : 14, Shape{kBatch * kSeq});
  return c;
}

// Both cases go out in one request so PyTorch starts once.
const TensorFile& torch_answer(const std::vector<Case>& cases) {
  static const TensorFile answer = [&] {
    TensorFile request;
    for (const Case& c : cases) put_case(request, c);
    return run_torch_script("tests/layers/llama_reference.py", request, "llama");
  }();
  return answer;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> v;
    v.push_back(make_case("tied", true));
    v.push_back(make_case("untied", false));
    return v;
  }();
  return all;
}

class LlamaTorchParity : public ::testing::TestWithParam<size_t> {};

TEST_P(LlamaTorchParity, LogitsAndGradientsMatch) {
  const Case& c = cases()[GetParam()];
  const TensorFile& answer = torch_answer(cases());
  ASSERT_FALSE(answer.has(c.name + "/error")) << c.name << ": PyTorch raised:\n" << answer.text(c.name + "/error");

  std::ostringstream names;
  for (const auto& [name, p] : c.model->named_parameters()) names << (names.tellp() > 0 ? "\n" : "") << name;
  EXPECT_EQ(names.str(), answer.text(c.name + "/names")) << "named_parameters order differs from HF's";

  for (Variable& p : c.model->parameters()) p.zero_grad();
  Variable logits = c.model->forward(c.ids);
  Variable loss = autograd::cross_entropy(autograd::reshape(logits, {-1, c.model->config().vocab_size}), c.targets);
  loss.backward();

  const double logit_error = max_abs_diff(logits.data(), answer.tensor(c.name + "/logits"));
  const double loss_error = std::abs(loss.item() - answer.tensor(c.name + "/loss").values[0]);
  double logit_scale = 0.0;
  for (double v : answer.tensor(c.name + "/logits").values) logit_scale = std::max(logit_scale, std::abs(v));
  std::printf("[llama %-6s] logits max_abs %.2e (max |logit| %.2f), loss %.6f abs err %.2e\n", c.name.c_str(),
              logit_error, logit_scale, loss.item(), loss_error);
  EXPECT_LE(logit_error, kLogitTolerance);
  EXPECT_LE(loss_error, kLogitTolerance);

  double worst_grad = 0.0;
  std::string worst_name;
  for (const auto& [name, p] : c.model->named_parameters()) {
    const double error = max_abs_diff(p.grad(), answer.tensor(c.name + "/grad/" + name));
    EXPECT_LE(error, kGradTolerance) << c.name << ": gradient of " << name;
    if (error >= worst_grad) worst_grad = error, worst_name = name;
  }
  std::printf("[llama %-6s] gradients of %zu parameters: worst max_abs %.2e (%s)\n", c.name.c_str(),
              c.model->named_parameters().size(), worst_grad, worst_name.c_str());
}

INSTANTIATE_TEST_SUITE_P(TinyLlama, LlamaTorchParity, ::testing::Values(0, 1),
                         [](const ::testing::TestParamInfo<size_t>& info) { return cases()[info.param].name; });

}  // namespace
}  // namespace qforge::testing
