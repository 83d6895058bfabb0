// LoRA on Linear (layers/lora.h): exact base output while B = 0, packed base = dense base,
// merge_lora = adapted forward, finite-difference gradients of the adapter, PEFT names, apply_lora
// targets and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "autograd/ops.h"
#include "layers/linear.h"
#include "layers/llama.h"
#include "tests/layers/float_rows_weight.h"

namespace qforge::testing {
namespace {

namespace ag = autograd;
using ag::NoGradGuard;
using ag::Shape;
using ag::Tensor;
using ag::Variable;
using namespace qforge::layers;

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape().to_vector(), b.shape().to_vector());
  float worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  return worst;
}

float max_abs(const Tensor& a) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i]));
  return m;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

void set_values(const Variable& p, const Tensor& values) {
  Variable target = p;
  std::memcpy(target.mutable_data().data(), values.data(), values.numel() * sizeof(float));
}

std::shared_ptr<Linear> packed_copy(const Linear& dense) {
  return std::make_shared<Linear>(std::make_shared<FloatRowsWeight>(dense.weight().data().clone()), false);
}

std::vector<std::string> names_of(const Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, p] : m.named_parameters()) names.push_back(name);
  return names;
}

TEST(Lora, ZeroBGivesExactlyTheBaseOutput) {
  Linear adapted(12, 7, true, 3), plain(12, 7, true, 3);
  adapted.add_lora(LoraOptions{.rank = 4, .alpha = 8});
  const Variable x(Tensor::randn(Shape{2, 5, 12}, 9));
  EXPECT_TRUE(bit_equal(adapted.forward(x).data(), plain.forward(x).data()));
  EXPECT_EQ(adapted.lora_rank(), 4);
  EXPECT_DOUBLE_EQ(adapted.lora_scale(), 2.0);
  EXPECT_EQ(max_abs(adapted.lora_B()->weight().data()), 0.0f);
  // A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT's kaiming_uniform_(a=sqrt(5))), not all zero.
  const float bound = 1.0f / std::sqrt(12.0f);
  EXPECT_LE(max_abs(adapted.lora_A()->weight().data()), bound);
  EXPECT_GT(max_abs(adapted.lora_A()->weight().data()), 0.5f * bound);
  EXPECT_EQ(names_of(adapted), (std::vector<std::string>{"weight", "bias", "lora_A.weight", "lora_B.weight"}));
  // Base frozen, adapter trainable.
  EXPECT_FALSE(adapted.weight().requires_grad());
  EXPECT_FALSE(adapted.bias().requires_grad());
  EXPECT_TRUE(adapted.lora_A()->weight().requires_grad());
  EXPECT_TRUE(adapted.lora_B()->weight().requires_grad());
}

TEST(Lora, RsLoraScaleAndOptionErrors) {
  Linear layer(8, 8, false, 1);
  layer.add_lora(LoraOptions{.rank = 16, .alpha = 8, .rslora = true});
  EXPECT_DOUBLE_EQ(layer.lora_scale(), 2.0);  // 8 / sqrt(16)
  EXPECT_THROW(layer.add_lora(LoraOptions{}), std::logic_error);
  Linear other(8, 8, false, 1);
  EXPECT_THROW(other.add_lora(LoraOptions{.rank = 0}), std::invalid_argument);
  EXPECT_THROW(other.add_lora(LoraOptions{.dropout = 1.0}), std::invalid_argument);
  EXPECT_THROW(other.merge_lora(), std::logic_error);
}

TEST(Lora, PackedBaseEqualsDenseBase) {
  Linear dense(40, 300, false, 5);  // 300 rows: two full 128-row tiles and a partial one
  auto packed = packed_copy(dense);
  EXPECT_TRUE(packed->is_packed());
  EXPECT_EQ(packed->packed_weight()->format(), "f32rows");
  EXPECT_TRUE(names_of(*packed).empty()) << "a packed Linear keeps no FP32 weight parameter";
  EXPECT_TRUE(bit_equal(packed->dense_weight(), dense.weight().data()));
  Variable x1(Tensor::randn(Shape{3, 4, 40}, 2), true), x2(x1.data().clone(), true);
  Variable y1 = packed->forward(x1), y2 = dense.forward(x2);
  const Tensor g = Tensor::randn(y1.shape(), 3);
  y1.backward(g);
  y2.backward(g);
  const float dy = max_abs_diff(y1.data(), y2.data()), dx = max_abs_diff(x1.grad(), x2.grad());
  std::printf("[packed vs dense] forward max abs diff %.2e, input grad %.2e\n", dy, dx);
  EXPECT_LE(dy, 1e-5f);
  EXPECT_LE(dx, 1e-5f);
  EXPECT_THROW(
      {
        try {
          packed->set_weight_quantizer(std::make_shared<Linear>(1, 1));
        } catch (const std::logic_error& e) {
          EXPECT_NE(std::string(e.what()).find("packed f32rows weight"), std::string::npos) << e.what();
          throw;
        }
      },
      std::logic_error);
  EXPECT_THROW(Linear(autograd::PackedWeightPtr{}), std::invalid_argument);
}

// merge_lora: x (W + s B A)^T against x W^T + s (x A^T) B^T; both FP32, so they differ by rounding
// of sums over in + r terms. Bound relative to the output's magnitude.
constexpr float kMergeRelativeTolerance = 1e-5f;

void check_merge(bool packed, bool bias) {
  Linear dense(24, 10, bias, 7);
  std::shared_ptr<Linear> layer = packed ? packed_copy(dense) : std::make_shared<Linear>(24, 10, bias, 7);
  if (packed && bias) {
    layer = std::make_shared<Linear>(std::make_shared<FloatRowsWeight>(dense.weight().data().clone()), true);
    set_values(layer->bias(), dense.bias().data());
  }
  layer->add_lora(LoraOptions{.rank = 3, .alpha = 6, .seed = 4});
  set_values(layer->lora_B()->weight(), Tensor::randn(Shape{10, 3}, 11, 0.5f));
  layer->eval();
  const Variable x(Tensor::randn(Shape{6, 24}, 12));
  const Tensor adapted = layer->forward(x).data().clone();
  layer->merge_lora();
  const Tensor merged = layer->forward(x).data();
  const float diff = max_abs_diff(adapted, merged), scale = max_abs(adapted);
  std::printf("[merge packed=%d bias=%d] max abs diff %.2e (max |y| %.2f)\n", packed, bias, diff, scale);
  EXPECT_LE(diff, kMergeRelativeTolerance * scale);
  EXPECT_GT(max_abs_diff(adapted, dense.forward(x).data()), 0.1f) << "the adapter must have changed the output";
  EXPECT_FALSE(layer->is_packed());
  EXPECT_FALSE(layer->has_lora());
  const std::vector<std::string> expected = bias ? std::vector<std::string>{"weight", "bias"} : std::vector<std::string>{"weight"};
  EXPECT_EQ(names_of(*layer), expected);
  EXPECT_TRUE(layer->weight().requires_grad());
}

TEST(Lora, MergeEqualsAdaptedForward) {
  for (bool packed : {false, true}) {
    for (bool bias : {false, true}) check_merge(packed, bias);
  }
}

// Central differences of L = sum(y * upstream) w.r.t. every element of lora_A, lora_B and x, as
// tests/layers/test_layer_gradcheck.cpp: |numeric - analytic| <= tol (1 + |numeric|).
constexpr double kStep = 5e-3, kGradTolerance = 2e-3;

double check_leaf(Linear& layer, const Variable& x, Variable leaf, const Tensor& upstream, const char* name) {
  const Tensor analytic = leaf.grad().clone();
  double worst = 0;
  float* data = leaf.mutable_data().data();
  for (int64_t j = 0; j < leaf.numel(); ++j) {
    const float original = data[j], step = static_cast<float>(kStep);
    double plus = 0, minus = 0;
    NoGradGuard no_grad;
    data[j] = original + step;
    Tensor yp = layer.forward(x).data();
    data[j] = original - step;
    Tensor ym = layer.forward(x).data();
    data[j] = original;
    for (int64_t i = 0; i < yp.numel(); ++i) {
      plus += static_cast<double>(yp.data()[i]) * upstream.data()[i];
      minus += static_cast<double>(ym.data()[i]) * upstream.data()[i];
    }
    const double numeric = (plus - minus) / (static_cast<double>(original + step) - (original - step));
    const double error = std::abs(numeric - analytic.data()[j]) / (1 + std::abs(numeric));
    worst = std::max(worst, error);
    EXPECT_LE(error, kGradTolerance) << name << "[" << j << "] numeric " << numeric << " analytic " << analytic.data()[j];
  }
  std::printf("[lora gradcheck] %-8s %lld elements, worst scaled error %.2e\n", name,
              static_cast<long long>(leaf.numel()), worst);
  return worst;
}

TEST(Lora, GradientsMatchFiniteDifferences) {
  for (bool packed : {false, true}) {
    Linear dense(6, 5, false, 21);
    std::shared_ptr<Linear> layer = packed ? packed_copy(dense) : std::make_shared<Linear>(6, 5, false, 21);
    layer->add_lora(LoraOptions{.rank = 2, .alpha = 3, .seed = 8});
    set_values(layer->lora_B()->weight(), Tensor::randn(Shape{5, 2}, 22, 0.5f));
    Variable x(Tensor::randn(Shape{3, 6}, 23), true);
    Variable y = layer->forward(x);
    const Tensor upstream = Tensor::randn(y.shape(), 24);
    y.backward(upstream);
    check_leaf(*layer, x, layer->lora_A()->weight(), upstream, "lora_A");
    check_leaf(*layer, x, layer->lora_B()->weight(), upstream, "lora_B");
    check_leaf(*layer, x, x, upstream, "input");
    if (!packed) EXPECT_FALSE(layer->weight().has_grad()) << "the frozen base weight must get no gradient";
  }
}

TEST(Lora, DropoutOnlyOnTheAdapterPathAndOnlyInTraining) {
  Linear layer(16, 8, false, 2);
  layer.add_lora(LoraOptions{.rank = 4, .alpha = 4, .dropout = 0.5, .seed = 1});
  set_values(layer.lora_B()->weight(), Tensor::randn(Shape{8, 4}, 3));
  EXPECT_EQ(names_of(layer).size(), 3u) << "lora_dropout has no parameters";
  const Variable x(Tensor::randn(Shape{4, 16}, 5));
  layer.eval();
  const Tensor eval1 = layer.forward(x).data().clone(), eval2 = layer.forward(x).data().clone();
  EXPECT_TRUE(bit_equal(eval1, eval2));
  layer.train();
  const Tensor train1 = layer.forward(x).data().clone(), train2 = layer.forward(x).data().clone();
  EXPECT_GT(max_abs_diff(train1, eval1), 1e-3f);
  EXPECT_GT(max_abs_diff(train1, train2), 1e-3f) << "each training call draws a new mask";
  // With B = 0 the dropout cannot reach the output: the base path is never dropped.
  Linear zero_b(16, 8, false, 2), plain(16, 8, false, 2);
  zero_b.add_lora(LoraOptions{.rank = 4, .dropout = 0.5});
  EXPECT_TRUE(bit_equal(zero_b.forward(x).data(), plain.forward(x).data()));
}

LlamaConfig tiny_llama() {
  LlamaConfig c;
  c.vocab_size = 17;
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.intermediate_size = 24;
  c.max_position_embeddings = 16;
  c.seed = 3;
  return c;
}

TEST(ApplyLora, PeftNamesTargetsAndSeeds) {
  LlamaForCausalLM model(tiny_llama());
  model.freeze();
  const auto adapted = apply_lora(model, {"q_proj", "v_proj"}, LoraOptions{.rank = 2});
  EXPECT_EQ(adapted, (std::vector<std::string>{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                               "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}));
  std::vector<std::string> trainable;
  for (const auto& [name, p] : model.named_parameters()) {
    if (p.requires_grad()) trainable.push_back(name);
  }
  ASSERT_EQ(trainable.size(), 8u);
  EXPECT_EQ(trainable[0], "model.layers.0.self_attn.q_proj.lora_A.weight");
  EXPECT_EQ(trainable[1], "model.layers.0.self_attn.q_proj.lora_B.weight");
  // Per-module seeds: the two q_proj adapters start from different A.
  const auto a0 = model.model()->layer(0)->self_attn()->q_proj()->lora_A()->weight().data();
  const auto a1 = model.model()->layer(1)->self_attn()->q_proj()->lora_A()->weight().data();
  EXPECT_GT(max_abs_diff(a0, a1), 1e-3f);
  // A glob on the full path; lora_A/lora_B of existing adapters are never adapted.
  LlamaForCausalLM other(tiny_llama());
  const auto globbed = apply_lora(other, {"model.layers.1.mlp.*"}, LoraOptions{.rank = 2});
  EXPECT_EQ(globbed, (std::vector<std::string>{"model.layers.1.mlp.gate_proj", "model.layers.1.mlp.up_proj",
                                               "model.layers.1.mlp.down_proj"}));
  EXPECT_THROW(apply_lora(other, {"*"}, LoraOptions{.rank = 2}), std::logic_error) << "mlp of layer 1 is adapted";
  LlamaForCausalLM fresh(tiny_llama());
  const auto everything = apply_lora(fresh, {"*"}, LoraOptions{.rank = 2});
  EXPECT_EQ(everything.size(), 2u * 7 + 1) << "every projection and lm_head, never a lora_A/lora_B";
  EXPECT_EQ(everything.back(), "lm_head");
}

TEST(ApplyLora, Errors) {
  LlamaForCausalLM model(tiny_llama());
  try {
    apply_lora(model, {"qproj", "model.layers.9.*"}, LoraOptions{});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[qproj, model.layers.9.*]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_lora(model, {}, LoraOptions{}), std::invalid_argument);
  EXPECT_THROW(apply_lora(model, {"q_proj"}, LoraOptions{.rank = -1}), std::invalid_argument);
  apply_lora(model, {"q_proj"}, LoraOptions{});
  EXPECT_THROW(apply_lora(model, {"q_proj"}, LoraOptions{}), std::logic_error);
}

TEST(ApplyLora, GlobMatch) {
  EXPECT_TRUE(glob_match("model.layers.*.self_attn.?_proj", "model.layers.12.self_attn.q_proj"));
  EXPECT_FALSE(glob_match("model.layers.*.self_attn.?_proj", "model.layers.12.mlp.up_proj"));
  EXPECT_TRUE(glob_match("*", "lm_head"));
  EXPECT_FALSE(glob_match("lm_hea", "lm_head"));
}

}  // namespace
}  // namespace qforge::testing
