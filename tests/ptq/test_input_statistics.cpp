// Input statistics (importance matrices) on a tiny Llama: the collector's Σx² / tokens per weight equals a
// direct computation from the model's own modules, and which weights share an input follows llama-imatrix.
// (exporters/test_llama_imatrix_names.cpp checks the names these become in a GGUF imatrix.)
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "autograd/ops.h"
#include "ptq/input_statistics.h"
#include "tests/support/tiny_llama.h"

namespace qforge::ptq {
namespace {

namespace ag = qforge::autograd;

layers::LlamaConfig tiny_config(bool tied) {
  layers::LlamaConfig c = qforge::testing::tiny_llama_shape();
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
    const std::string blk = "model.layers." + std::to_string(i) + ".";
    const ag::Variable a = layer->input_layernorm()->forward(x);
    add_squares(a, sums[blk + "self_attn.q_proj.weight"]);
    const ag::Variable h = ag::add(x, layer->self_attn()->forward(a));
    const ag::Variable n = layer->post_attention_layernorm()->forward(h);
    add_squares(n, sums[blk + "mlp.gate_proj.weight"]);
    const auto& mlp = layer->mlp();
    add_squares(ag::mul(ag::silu(mlp->gate_proj()->forward(n)), mlp->up_proj()->forward(n)), sums[blk + "mlp.down_proj.weight"]);
    x = ag::add(h, mlp->forward(n));
  }
  add_squares(model.model()->norm()->forward(x), sums["lm_head.weight"]);
  return sums;
}

TEST(InputStatistics, CollectionEqualsDirectMeanOfSquares) {
  const layers::LlamaConfig config = tiny_config(false);
  layers::LlamaForCausalLM model(config), reference(config);  // same seed: same weights
  const int64_t chunk = 16, chunks = 3;
  const std::vector<uint32_t> tokens = random_tokens(chunk * chunks + 5, 40);  // a partial chunk is left out
  InputStatisticsCollector collector(model, {.include_lm_head = true});
  EXPECT_EQ(collector.run(tokens, chunk, 0, /*batch_chunks=*/2), chunks);
  const std::map<std::string, InputMoments> m = collector.moments();
  EXPECT_EQ(collector.chunk_count(), 3);
  EXPECT_EQ(collector.chunk_size(), 16);
  EXPECT_EQ(m.size(), 2u * 7u + 1u);  // q k v o gate up down per layer, plus output

  const std::vector<int64_t> ids(tokens.begin(), tokens.begin() + chunk * chunks);
  const auto expected = direct_sums(reference, ag::IndexTensor(ag::Shape{chunks, chunk}, ids));
  double worst = 0.0;
  for (const auto& [name, sums] : expected) {
    const InputMoments& e = m.at(name);
    ASSERT_EQ(e.rows, 48) << name;
    ASSERT_EQ(e.sum2.size(), sums.size()) << name;
    for (size_t j = 0; j < sums.size(); ++j) {
      const double mean = sums[j] / 48.0, got = static_cast<float>(e.sum2[j]) / 48.0;
      ASSERT_GT(mean, 0.0) << name;
      worst = std::max(worst, std::abs(got - mean) / mean);
    }
  }
  std::printf("max relative difference of mean x^2, collector vs direct: %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
  // k and v read q's input, up reads gate's: llama-imatrix records identical statistics for them.
  const auto same = [](const InputMoments& a, const InputMoments& b) {
    return a.sum == b.sum && a.sum2 == b.sum2 && a.rows == b.rows;
  };
  EXPECT_TRUE(same(m.at("model.layers.1.self_attn.k_proj.weight"), m.at("model.layers.1.self_attn.q_proj.weight")));
  EXPECT_TRUE(same(m.at("model.layers.1.self_attn.v_proj.weight"), m.at("model.layers.1.self_attn.q_proj.weight")));
  EXPECT_TRUE(same(m.at("model.layers.0.mlp.up_proj.weight"), m.at("model.layers.0.mlp.gate_proj.weight")));
  const InputMoments& o = m.at("model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(o.sum2.size(), 32u);
  EXPECT_EQ(o.rows, 48);
  // The logits are unchanged by the observers (identity maps).
  const ag::IndexTensor probe(ag::Shape{1, 4}, {1, 2, 3, 4});
  EXPECT_EQ(model.forward(probe).data().to_vector(), reference.forward(probe).data().to_vector());
}

TEST(InputStatistics, OutputOnlyOnRequestAndNeverWhenTied) {
  const std::vector<uint32_t> tokens = random_tokens(32, 40);
  layers::LlamaForCausalLM untied(tiny_config(false)), tied(tiny_config(true));
  InputStatisticsCollector plain(untied);
  plain.run(tokens, 16);
  EXPECT_EQ(plain.moments().count("lm_head.weight"), 0u);
  InputStatisticsCollector with_tied(tied, {.include_lm_head = true});
  with_tied.run(tokens, 16);
  EXPECT_EQ(with_tied.moments().size(), 14u);  // token_embd is not a matmul weight llama-imatrix sees
}

TEST(InputStatistics, RejectsBadChunksAndQuantizedInputs) {
  layers::LlamaForCausalLM model(tiny_config(false));
  InputStatisticsCollector collector(model);
  EXPECT_THROW(collector.run(random_tokens(10, 40), 16), std::invalid_argument);   // not one chunk
  EXPECT_THROW(collector.run(random_tokens(64, 40), 32), std::invalid_argument);   // beyond max positions
  EXPECT_THROW(InputStatisticsCollector second(model), std::logic_error);             // inputs already observed
}

}  // namespace
}  // namespace qforge::ptq
