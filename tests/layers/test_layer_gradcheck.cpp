// Every layer's gradients (w.r.t. its input and all its parameters) against central finite
// differences of L = sum(out * upstream), in float as tests/autograd/test_gradcheck.cpp:
// |numeric - analytic| <= tol * (1 + |numeric|). Parameters are randomised first
// (tests/layers/random_weights.h) so norm weights are not all ones.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>

#include "autograd/ops.h"
#include "layers/activations.h"
#include "layers/causal_self_attention.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/llama.h"
#include "layers/mlp.h"
#include "layers/rms_norm.h"
#include "layers/swiglu.h"
#include "tests/layers/random_weights.h"

namespace qforge::testing {
namespace {

namespace ag = autograd;
using ag::IndexTensor;
using ag::NoGradGuard;
using ag::Shape;
using ag::Tensor;
using ag::Variable;
using namespace qforge::layers;

constexpr double kStep = 5e-3;
constexpr double kTolerance = 2e-3;  // same as the autograd op gradchecks; a 1% gradient error fails

double weighted_sum(const Tensor& out, const Tensor& upstream) {
  double total = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * upstream.data()[i];
  return total;
}

// Inputs N(0, 1) pushed at least 0.05 away from zero, so kinks (relu) are not crossed by the step.
Variable input(const Shape& shape, uint64_t seed) {
  Tensor t = Tensor::randn(shape, seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += t.data()[i] >= 0 ? 0.05f : -0.05f;
  return Variable(t, true);
}

// Checks d/d leaf of sum(run() * upstream) for every element of every leaf; returns the worst
// scaled error.
double check_gradients(const std::string& name, const std::function<Variable()>& run,
                       std::vector<std::pair<std::string, Variable>> leaves) {
  Variable out = run();
  const Tensor upstream = Tensor::randn(out.shape(), std::hash<std::string>{}(name) & 0xffff);
  for (auto& [leaf_name, leaf] : leaves) leaf.zero_grad();
  out.backward(upstream);
  double worst = 0.0;
  for (auto& [leaf_name, leaf] : leaves) {
    const Tensor analytic = leaf.grad().clone();
    float* data = leaf.mutable_data().data();
    for (int64_t j = 0; j < leaf.numel(); ++j) {
      const float original = data[j];
      const float step = static_cast<float>(kStep);
      double plus, minus;
      {
        NoGradGuard no_grad;
        data[j] = original + step;
        plus = weighted_sum(run().data(), upstream);
        data[j] = original - step;
        minus = weighted_sum(run().data(), upstream);
        data[j] = original;
      }
      const double taken = static_cast<double>(original + step) - static_cast<double>(original - step);
      const double numeric = (plus - minus) / taken;
      const double error = std::abs(numeric - analytic.data()[j]) / (1.0 + std::abs(numeric));
      worst = std::max(worst, error);
      EXPECT_LE(error, kTolerance) << name << ": " << leaf_name << "[" << j << "] numeric " << numeric
                                   << " analytic " << analytic.data()[j];
      if (error > kTolerance) return worst;
    }
  }
  std::printf("[gradcheck] %-24s %zu leaves, worst scaled error %.2e\n", name.c_str(), leaves.size(), worst);
  return worst;
}

// The module's parameters plus, when given, the input.
std::vector<std::pair<std::string, Variable>> leaves_of(const Module& m, const Variable& x = Variable()) {
  auto leaves = m.named_parameters();
  if (x.defined()) leaves.emplace_back("input", x);
  return leaves;
}

void check_unary(const std::string& name, UnaryModule& m, const Shape& x_shape, uint64_t seed) {
  randomise_parameters(m, seed);
  Variable x = input(x_shape, seed + 1);
  check_gradients(name, [&] { return m.forward(x); }, leaves_of(m, x));
}

// The checker itself must be able to fail: an op whose backward is 1% off is caught.
TEST(LayerGradCheck, CatchesAOnePercentGradientError) {
  Variable x = input(Shape{3, 4}, 5);
  const auto off_by_one_percent = [&] {
    Tensor y = x.data().clone();
    for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] *= 2.0f;
    auto backward = [](std::vector<Variable>& in, const Tensor& g) {
      Tensor d = g.clone();
      for (int64_t i = 0; i < d.numel(); ++i) d.data()[i] *= 2.02f;
      in[0].add_grad(d);
    };
    return Variable(y, {x}, backward, "wrong_double");
  };
  EXPECT_NONFATAL_FAILURE(check_gradients("wrong_double", off_by_one_percent, {{"input", x}}), "numeric");
}

TEST(LayerGradCheck, Linear) {
  Linear with_bias(5, 4, true, 1);
  check_unary("linear", with_bias, Shape{2, 3, 5}, 10);
  Linear without_bias(5, 4, false, 2);
  check_unary("linear_no_bias", without_bias, Shape{3, 5}, 11);
}

TEST(LayerGradCheck, Embedding) {
  Embedding table(7, 4, 3);
  const IndexTensor ids(Shape{2, 3}, {0, 6, 2, 2, 5, 0});  // repeated ids accumulate
  check_gradients("embedding", [&] { return table.forward(ids); }, leaves_of(table));
}

TEST(LayerGradCheck, Norms) {
  RMSNorm rms(6, 1e-5f);
  check_unary("rms_norm", rms, Shape{3, 6}, 20);
  LayerNorm ln(6, 1e-5f);
  check_unary("layer_norm", ln, Shape{2, 2, 6}, 21);
}

TEST(LayerGradCheck, Activations) {
  const std::pair<const char*, Activation> all[] = {
      {"relu", Activation::kReLU}, {"gelu", Activation::kGELU}, {"silu", Activation::kSiLU}, {"tanh", Activation::kTanh}};
  for (const auto& [name, activation] : all) check_unary(name, *make_activation(activation), Shape{4, 5}, 30);
}

TEST(LayerGradCheck, DropoutWithFixedMask) {
  // A fresh module per evaluation: the module advances its seed each call, so every run reuses
  // the mask of seed 5 and the check sees a fixed function.
  Variable x = input(Shape{4, 8}, 40);
  check_gradients("dropout", [&] { return Dropout(0.3f, 5).forward(x); }, {{"input", x}});
}

TEST(LayerGradCheck, MLPAndSwiGLU) {
  MLP mlp({4, 6, 3}, Activation::kGELU, true, 50);
  check_unary("mlp", mlp, Shape{3, 4}, 51);
  SwiGLU swiglu(6, 10, 52);
  check_unary("swiglu", swiglu, Shape{2, 3, 6}, 53);
}

TEST(LayerGradCheck, CausalSelfAttention) {
  CausalSelfAttention gqa(8, 4, 2, 10000.0f, 60);
  check_unary("attention_gqa", gqa, Shape{2, 5, 8}, 61);
  CausalSelfAttention mha(8, 2, 2, 500.0f, 62);
  check_unary("attention_mha", mha, Shape{1, 4, 8}, 63);
}

LlamaConfig tiny_config(bool tied) {
  LlamaConfig c;
  c.vocab_size = 11;
  c.hidden_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.intermediate_size = 12;
  c.max_position_embeddings = 16;
  c.rms_norm_eps = 1e-5f;
  c.tie_word_embeddings = tied;
  return c;
}

TEST(LayerGradCheck, LlamaDecoderLayer) {
  LlamaDecoderLayer layer(tiny_config(false), 70);
  check_unary("llama_decoder_layer", layer, Shape{2, 4, 8}, 71);
}

TEST(LayerGradCheck, LlamaForCausalLM) {
  const IndexTensor ids(Shape{2, 4}, {1, 10, 3, 3, 0, 7, 2, 9});
  for (bool tied : {false, true}) {
    LlamaForCausalLM model(tiny_config(tied));
    randomise_parameters(model, 80);
    check_gradients(tied ? "llama_tied" : "llama_untied", [&] { return model.forward(ids); }, leaves_of(model));
  }
}

}  // namespace
}  // namespace qforge::testing
