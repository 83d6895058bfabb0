// QAT under activation checkpointing (LlamaConfig::gradient_checkpointing): a checkpoint's backward
// recomputes each decoder layer, and a quantizer whose forward updates state (an EMA activation
// observer, the weight min/max observer, the step counter that freezes them) must update it once per
// step, not again in the recompute. Four SGD steps with and without checkpointing give the same loss
// bits, gradients and quantizer state; the control (the recompute observing again, as before the fix)
// is what made 1-rank QAT runs with checkpointing differ at step 2.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "fakequant/qat.h"
#include "layers/llama.h"
#include "tests/layers/random_weights.h"
#include "tests/support/tiny_llama.h"

namespace qforge::fakequant {
namespace {

namespace ag = autograd;
using ag::IndexTensor;
using ag::Shape;
using ag::Tensor;
using ag::Variable;

IndexTensor ids(int64_t batch, int64_t seq, int64_t vocab, int64_t salt) {
  std::vector<int64_t> v(batch * seq);
  for (int64_t i = 0; i < batch * seq; ++i) v[i] = (i * 7 + salt * 5 + (i * i) % 3) % vocab;
  return IndexTensor(Shape{batch, seq}, v);
}

struct TrainedRun {
  std::vector<uint32_t> losses;
  layers::StateDict state;  // parameters (weights, scales) and int64 buffers (step counters) after the steps
};

TrainedRun train(bool checkpointing) {
  layers::LlamaConfig c = qforge::testing::tiny_llama_shape({.vocab = 31, .ffn = 64, .context = 32});
  c.seed = 3;
  c.gradient_checkpointing = checkpointing;
  layers::LlamaForCausalLM model(c);
  testing::randomise_parameters(model, 11);
  QuantRule rule;
  rule.pattern = "model.layers.*";
  rule.weight = parse_scheme("int4:g32");
  QuantizerSpec input = parse_scheme("int8:tensor:asym:ema");
  input.observer.freeze_after_steps = 3;  // counted twice per step, it would freeze after step 2
  rule.input = input;
  prepare_qat(model, {rule});
  model.train();
  TrainedRun run;
  for (int step = 0; step < 4; ++step) {
    for (Variable& p : model.parameters()) p.zero_grad();
    const IndexTensor x = ids(2, 16, 31, step);
    const IndexTensor y = ids(1, 32, 31, step + 1);
    Variable loss = ag::cross_entropy(ag::reshape(model.forward(x), {-1, 31}),
                                      IndexTensor(Shape{32}, std::vector<int64_t>(y.data(), y.data() + 32)));
    loss.backward();
    const float value = loss.item();
    uint32_t bits;
    std::memcpy(&bits, &value, 4);
    run.losses.push_back(bits);
    for (Variable& p : model.parameters()) {  // plain SGD, so later steps see moved weights and scales
      if (!p.has_grad()) continue;
      float* w = p.mutable_data().data();
      const float* g = p.grad().data();
      for (int64_t i = 0; i < p.numel(); ++i) w[i] -= 0.05f * g[i];
    }
  }
  run.state = model.state_dict();
  return run;
}

TEST(QatCheckpointing, SameLossesAndQuantizerStateWithRecompute) {
  const TrainedRun off = train(false), on = train(true);
  EXPECT_EQ(off.losses, on.losses);
  ASSERT_EQ(off.state.size(), on.state.size());
  int differing = 0, observer_tensors = 0;
  for (const auto& [name, t] : off.state) {
    const Tensor& other = on.state.at(name);
    const bool same = std::memcmp(t.data(), other.data(), t.numel() * sizeof(float)) == 0;
    differing += !same;
    observer_tensors += name.find("input_quantizer") != std::string::npos;
    EXPECT_TRUE(same) << name;
  }
  EXPECT_GT(observer_tensors, 0) << "no activation quantizer state in the state dict";
  EXPECT_EQ(off.state.buffers, on.state.buffers) << "quantizer step/freeze counters differ";
  int64_t steps_counted = 0;
  for (const auto& [name, values] : off.state.buffers)
    if (name.find("input_quantizer") != std::string::npos) steps_counted = std::max(steps_counted, values.at(1));
  std::printf("[qat checkpointing] 4 steps, %zu tensors, %d differ; activation observer steps %lld\n",
              off.state.size(), differing, static_cast<long long>(steps_counted));
}

}  // namespace
}  // namespace qforge::fakequant
