// LlamaForCausalLM built through a LinearFactory: with ordinary Linears it is the default model bit
// for bit; with packed projections (llama_initial_linear_weight packed one at a time) it keeps no
// FP32 projection weight and computes the default model's logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "autograd/ops.h"
#include "layers/init.h"
#include "layers/llama.h"
#include "tests/layers/float_rows_weight.h"
#include "tests/support/tiny_llama.h"

namespace qforge::testing {
namespace {

namespace ag = autograd;
using ag::IndexTensor;
using ag::Shape;
using ag::Tensor;
using namespace qforge::layers;

LlamaConfig tiny(bool tied) {
  LlamaConfig c = qforge::testing::tiny_llama_shape({.vocab = 23, .hidden = 16, .ffn = 40});
  c.tie_word_embeddings = tied;
  c.seed = 12;
  return c;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

TEST(LlamaLinearFactory, OrdinaryLinearsGiveTheDefaultModelBitForBit) {
  for (bool tied : {false, true}) {
    std::vector<std::string> paths;
    const LinearFactory factory = [&](const std::string& path, int64_t in, int64_t out, uint64_t seed) {
      paths.push_back(path);
      return std::make_shared<Linear>(in, out, false, seed);
    };
    LlamaForCausalLM reference(tiny(tied)), built(tiny(tied), factory);
    const auto a = reference.named_parameters(), b = built.named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_TRUE(bit_equal(a[i].second.data(), b[i].second.data())) << a[i].first;
    }
    ASSERT_EQ(paths.size(), tied ? 14u : 15u);
    EXPECT_EQ(paths[0], "model.layers.0.self_attn.q_proj");
    EXPECT_EQ(paths[6], "model.layers.0.mlp.down_proj");
    EXPECT_EQ(paths[13], "model.layers.1.mlp.down_proj");
    if (!tied) EXPECT_EQ(paths[14], "lm_head");
  }
}

TEST(LlamaLinearFactory, PackedProjectionsComputeTheDefaultModel) {
  const LlamaConfig config = tiny(false);
  const LinearFactory pack = [&](const std::string& path, int64_t in, int64_t out, uint64_t) {
    // The only FP32 copy of this projection lives until the packed weight is built.
    return std::make_shared<Linear>(std::make_shared<FloatRowsWeight>(llama_initial_linear_weight(config, path, in, out)));
  };
  LlamaForCausalLM reference(config), packed(config, pack);
  std::vector<std::string> names;
  for (const auto& [name, p] : packed.named_parameters()) names.push_back(name);
  EXPECT_EQ(names.size(), 1u + 2 * 2 + 1) << "embed, two norms per layer, final norm; no projection weights";
  for (const auto& [name, module] : reference.named_modules()) {
    const auto* dense = dynamic_cast<const Linear*>(module.get());
    if (dense == nullptr) continue;
    const Linear* twin = nullptr;
    for (const auto& [other_name, other] : packed.named_modules()) {
      if (other_name == name) twin = dynamic_cast<const Linear*>(other.get());
    }
    ASSERT_NE(twin, nullptr) << name;
    EXPECT_TRUE(twin->is_packed()) << name;
    EXPECT_TRUE(bit_equal(twin->dense_weight(), dense->weight().data())) << name;
  }
  const IndexTensor ids(Shape{2, 5}, {1, 22, 3, 3, 0, 7, 2, 9, 14, 5});
  ag::NoGradGuard no_grad;
  const Tensor a = reference.forward(ids).data(), b = packed.forward(ids).data();
  float worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) worst = std::max(worst, std::abs(a.data()[i] - b.data()[i]));
  std::printf("[factory] packed vs default logits max abs diff %.2e\n", worst);
  EXPECT_LE(worst, 1e-5f);
  EXPECT_THROW(llama_initial_linear_weight(config, "model.layers.2.mlp.up_proj", 16, 40), std::invalid_argument);
  EXPECT_THROW(llama_initial_linear_weight(config, "model.norm", 16, 16), std::invalid_argument);
}

TEST(LlamaLinearFactory, WrongShapeNamesThePath) {
  const LinearFactory wrong = [](const std::string&, int64_t in, int64_t out, uint64_t) {
    return std::make_shared<Linear>(in, out + 1, false);
  };
  try {
    LlamaForCausalLM model(tiny(false), wrong);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.self_attn.q_proj"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qforge::testing

namespace qforge::testing {
namespace {

// SkipInit (layers/init.h): a model built inside one has zero weights, norms still 1, and the next
// model built after it is the seeded default again (the flag is scoped and restored).
TEST(SkipInit, ZerosInsideAndTheSeededInitAfter) {
  const LlamaConfig config = tiny(false);
  const LlamaForCausalLM reference(config);
  {
    const SkipInit skip;
    EXPECT_TRUE(init_skipped());
    const LlamaForCausalLM skipped(config);
    for (const auto& [name, p] : skipped.named_parameters()) {
      const float* d = p.data().data();
      const bool norm = name.find("norm") != std::string::npos;
      for (int64_t i = 0; i < p.numel(); ++i) ASSERT_EQ(d[i], norm ? 1.0f : 0.0f) << name;
    }
  }
  EXPECT_FALSE(init_skipped());
  const LlamaForCausalLM after(config);
  const auto a = after.named_parameters(), r = reference.named_parameters();
  ASSERT_EQ(a.size(), r.size());
  for (size_t k = 0; k < a.size(); ++k)
    ASSERT_EQ(std::memcmp(a[k].second.data().data(), r[k].second.data().data(), a[k].second.numel() * sizeof(float)), 0)
        << a[k].first;
}

}  // namespace
}  // namespace qforge::testing
