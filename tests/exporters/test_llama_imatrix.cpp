// Importance-matrix collection on a tiny Llama: the collector's Σx² / tokens per GGUF weight equals a
// direct computation from the model's own modules, names and sharing follow llama-imatrix.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "autograd/ops.h"
#include "exporters/gguf/llama_imatrix.h"

namespace qforge::exporters::gguf {
namespace {

namespace ag = qforge::autograd;

layers::LlamaConfig tiny_config(bool tied) {
  layers::LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 48;
  c.max_position_embeddings = 16;
  c.tie_word_embeddings = tied;
  c.initializer_range = 0.5f;  // larger activations than the 0.02 default: the comparison is not trivially ~0
  c.seed = 11;
  return c;
}

std::vector<uint32_t> random_tokens(size_t n, uint32_t vocab) {
  std::mt19937 rng(3);
  std::vector<uint32_t> t(n);
  for (uint32_t& x : t) x = rng() % vocab;
  return t;
}

// Σx² per column of a [..., columns] variable, accumulated into `sums`.
void add_squares(const ag::Variable& x, std::vector<double>& sums) {
  const int64_t columns = x.dim(-1);
  sums.resize(static_cast<size_t>(columns), 0.0);
  const float* p = x.data().data();
  for (int64_t i = 0; i < x.numel(); ++i) sums[i % columns] += static_cast<double>(p[i]) * p[i];
}

// The inputs of q_proj, gate_proj, down_proj of every layer and of lm_head, from the public modules.
std::map<std::string, std::vector<double>> direct_sums(layers::LlamaForCausalLM& model, const ag::IndexTensor& ids) {
  ag::NoGradGuard no_grad;
  model.eval();
  std::map<std::string, std::vector<double>> sums;
  ag::Variable x = model.model()->embed_tokens()->forward(ids);
  for (int64_t i = 0; i < model.config().num_hidden_layers; ++i) {
    const auto layer = model.model()->layer(static_cast<size_t>(i));
    const std::string blk = "blk." + std::to_string(i) + ".";
    const ag::Variable a = layer->input_layernorm()->forward(x);
    add_squares(a, sums[blk + "attn_q.weight"]);
    const ag::Variable h = ag::add(x, layer->self_attn()->forward(a));
    const ag::Variable n = layer->post_attention_layernorm()->forward(h);
    add_squares(n, sums[blk + "ffn_gate.weight"]);
    const auto& mlp = layer->mlp();
    add_squares(ag::mul(ag::silu(mlp->gate_proj()->forward(n)), mlp->up_proj()->forward(n)), sums[blk + "ffn_down.weight"]);
    x = ag::add(h, mlp->forward(n));
  }
  add_squares(model.model()->norm()->forward(x), sums["output.weight"]);
  return sums;
}

TEST(LlamaImatrix, CollectionEqualsDirectMeanOfSquares) {
  const layers::LlamaConfig config = tiny_config(false);
  layers::LlamaForCausalLM model(config), reference(config);  // same seed: same weights
  const int64_t chunk = 16, chunks = 3;
  const std::vector<uint32_t> tokens = random_tokens(chunk * chunks + 5, 40);  // a partial chunk is left out
  LlamaImatrixCollector collector(model, {.process_output = true});
  EXPECT_EQ(collector.run(tokens, chunk, 0, /*batch_chunks=*/2), chunks);
  const Imatrix m = collector.imatrix({"random"});
  EXPECT_EQ(m.chunk_count, 3u);
  EXPECT_EQ(m.chunk_size, 16u);
  EXPECT_EQ(m.entries.size(), 2u * 7u + 1u);  // q k v o gate up down per layer, plus output

  const std::vector<int64_t> ids(tokens.begin(), tokens.begin() + chunk * chunks);
  const auto expected = direct_sums(reference, ag::IndexTensor(ag::Shape{chunks, chunk}, ids));
  double worst = 0.0;
  for (const auto& [name, sums] : expected) {
    const ImatrixEntry& e = m.entries.at(name);
    ASSERT_EQ(e.counts, std::vector<float>{48.0f}) << name;
    ASSERT_EQ(e.in_sum2.size(), sums.size()) << name;
    for (size_t j = 0; j < sums.size(); ++j) {
      const double mean = sums[j] / 48.0, got = e.in_sum2[j] / 48.0;
      ASSERT_GT(mean, 0.0) << name;
      worst = std::max(worst, std::abs(got - mean) / mean);
    }
  }
  std::printf("max relative difference of mean x^2, collector vs direct: %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
  // k and v read q's input, up reads gate's: llama-imatrix records identical statistics for them.
  EXPECT_EQ(m.entries.at("blk.1.attn_k.weight"), m.entries.at("blk.1.attn_q.weight"));
  EXPECT_EQ(m.entries.at("blk.1.attn_v.weight"), m.entries.at("blk.1.attn_q.weight"));
  EXPECT_EQ(m.entries.at("blk.0.ffn_up.weight"), m.entries.at("blk.0.ffn_gate.weight"));
  const ImatrixEntry& o = m.entries.at("blk.0.attn_output.weight");
  EXPECT_EQ(o.in_sum2.size(), 32u);
  EXPECT_EQ(o.counts, std::vector<float>{48.0f});
  // The logits are unchanged by the observers (identity maps).
  const ag::IndexTensor probe(ag::Shape{1, 4}, {1, 2, 3, 4});
  EXPECT_EQ(model.forward(probe).data().to_vector(), reference.forward(probe).data().to_vector());
}

TEST(LlamaImatrix, OutputOnlyOnRequestAndNeverWhenTied) {
  const std::vector<uint32_t> tokens = random_tokens(32, 40);
  layers::LlamaForCausalLM untied(tiny_config(false)), tied(tiny_config(true));
  LlamaImatrixCollector plain(untied);
  plain.run(tokens, 16);
  EXPECT_EQ(plain.imatrix().entries.count("output.weight"), 0u);
  LlamaImatrixCollector with_tied(tied, {.process_output = true});
  with_tied.run(tokens, 16);
  EXPECT_EQ(with_tied.imatrix().entries.size(), 14u);  // token_embd is not a matmul weight llama-imatrix sees
}

TEST(LlamaImatrix, RejectsBadChunksAndQuantizedInputs) {
  layers::LlamaForCausalLM model(tiny_config(false));
  LlamaImatrixCollector collector(model);
  EXPECT_THROW(collector.run(random_tokens(10, 40), 16), std::invalid_argument);   // not one chunk
  EXPECT_THROW(collector.run(random_tokens(64, 40), 32), std::invalid_argument);   // beyond max positions
  EXPECT_THROW(LlamaImatrixCollector second(model), std::logic_error);             // inputs already observed
}

}  // namespace
}  // namespace qforge::exporters::gguf
