// Activation checkpointing of a Llama (LlamaConfig::gradient_checkpointing): bit-identical loss and
// gradients with LoRA dropout > 0 over two steps (so the dropout seeds must advance alike), and a
// lower allocator peak for a forward + backward of a 4-layer model.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "autograd/allocator.h"
#include "autograd/ops.h"
#include "layers/llama.h"
#include "tests/layers/random_weights.h"

namespace qforge::testing {
namespace {

namespace ag = autograd;
using ag::IndexTensor;
using ag::Shape;
using ag::Tensor;
using ag::Variable;
using namespace qforge::layers;

IndexTensor ids(int64_t batch, int64_t seq, int64_t vocab, int64_t salt) {
  std::vector<int64_t> v(batch * seq);
  for (int64_t i = 0; i < batch * seq; ++i) v[i] = (i * 7 + salt * 3 + (i * i) % 5) % vocab;
  return IndexTensor(Shape{batch, seq}, v);
}

LlamaConfig config(int64_t layers, int64_t hidden, int64_t vocab, bool checkpointing) {
  LlamaConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = hidden * 3;
  c.max_position_embeddings = 128;
  c.seed = 5;
  c.gradient_checkpointing = checkpointing;
  return c;
}

struct StepResult {
  std::vector<uint32_t> losses;
  std::map<std::string, Tensor> grads;
};

StepResult run_steps(bool checkpointing) {
  LlamaForCausalLM model(config(2, 32, 29, checkpointing));
  randomise_parameters(model, 17);
  apply_lora(model, {"q_proj", "v_proj", "down_proj"}, LoraOptions{.rank = 4, .alpha = 8, .dropout = 0.2, .seed = 9});
  // Non-zero B, so the dropped LoRA inputs reach the loss and A gets gradients.
  for (auto& [name, p] : model.named_parameters()) {
    if (name.find("lora_B") != std::string::npos) {
      const Tensor values = Tensor::randn(p.shape(), std::hash<std::string>{}(name) & 0xffff, 0.3f);
      std::memcpy(p.mutable_data().data(), values.data(), values.numel() * sizeof(float));
    }
  }
  StepResult result;
  for (int step = 0; step < 2; ++step) {
    for (Variable& p : model.parameters()) p.zero_grad();
    const IndexTensor x = ids(2, 12, 29, step);
    const IndexTensor targets = ids(1, 24, 29, step + 1);
    Variable loss = ag::cross_entropy(ag::reshape(model.forward(x), {-1, 29}), IndexTensor(Shape{24}, std::vector<int64_t>(
                                                                                      targets.data(), targets.data() + 24)));
    loss.backward();
    float value = loss.item();
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    result.losses.push_back(bits);
  }
  for (const auto& [name, p] : model.named_parameters()) {
    if (p.has_grad()) result.grads.emplace(name, p.grad().clone());
  }
  return result;
}

TEST(GradientCheckpointing, BitIdenticalLossAndGradientsWithLoraDropout) {
  const StepResult off = run_steps(false), on = run_steps(true);
  EXPECT_EQ(off.losses, on.losses);
  ASSERT_EQ(off.grads.size(), on.grads.size());
  // Trainable: embed, norms, lm_head, the frozen-base projections' neighbours and 2 x 3 adapters.
  EXPECT_GT(off.grads.size(), 12u);
  EXPECT_TRUE(off.grads.count("model.layers.1.self_attn.q_proj.lora_A.weight"));
  EXPECT_FALSE(off.grads.count("model.layers.1.self_attn.q_proj.weight"));
  int differing = 0;
  for (const auto& [name, g] : off.grads) {
    const Tensor& other = on.grads.at(name);
    const bool same = std::memcmp(g.data(), other.data(), g.numel() * sizeof(float)) == 0;
    differing += !same;
    EXPECT_TRUE(same) << name;
  }
  std::printf("[checkpointing] 2 steps, %zu gradients, %d differ in any bit\n", off.grads.size(), differing);
}

// Peak live tensor bytes of one forward + backward above what was live before it.
int64_t step_peak(bool checkpointing) {
  LlamaForCausalLM model(config(4, 64, 64, checkpointing));
  const IndexTensor x = ids(4, 96, 64, 0);
  const IndexTensor targets = ids(1, 4 * 96, 64, 1);
  const IndexTensor flat(Shape{4 * 96}, std::vector<int64_t>(targets.data(), targets.data() + 4 * 96));
  const int64_t before = ag::live_allocation_bytes();
  ag::reset_peak_allocation_bytes();
  {
    Variable loss = ag::cross_entropy(ag::reshape(model.forward(x), {-1, 64}), flat);
    loss.backward();
  }
  return ag::peak_allocation_bytes() - before;
}

TEST(GradientCheckpointing, LowersThePeakOfAFourLayerStep) {
  const int64_t without = step_peak(false), with = step_peak(true);
  const double ratio = static_cast<double>(with) / static_cast<double>(without);
  std::printf("[checkpointing] 4 layers, batch 4 x 96, dim 64: peak %.2f MiB without, %.2f MiB with (ratio %.2f)\n",
              without / 1048576.0, with / 1048576.0, ratio);
  EXPECT_LT(ratio, 0.6);
  EXPECT_GT(with, 0);
}

}  // namespace
}  // namespace qforge::testing
