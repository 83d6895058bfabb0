// Statistics collected by Hugging Face weight name (ptq/input_statistics.h) become a GGUF imatrix under
// llama.cpp's tensor names, entries unchanged; a weight without a GGUF name is an error naming it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exporters/gguf/llama_imatrix.h"

namespace qforge::exporters::gguf {
namespace {

TEST(LlamaImatrixNames, HuggingFaceNamesBecomeGgufNames) {
  const ImatrixEntry q{{1.0f, 4.0f}, {2.0f}, {1.0f, -2.0f}}, down{{9.0f}, {3.0f}, {}};
  const std::map<std::string, ImatrixEntry> by_weight = {
      {"model.layers.0.self_attn.q_proj.weight", q},
      {"model.layers.0.self_attn.k_proj.weight", q},
      {"model.layers.3.mlp.down_proj.weight", down},
      {"lm_head.weight", down}};
  const Imatrix m = llama_imatrix(by_weight, {"fortunes"}, 64, 5);
  EXPECT_EQ(m.chunk_size, 64u);
  EXPECT_EQ(m.chunk_count, 5u);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"fortunes"});
  ASSERT_EQ(m.entries.size(), 4u);
  EXPECT_EQ(m.entries.at("blk.0.attn_q.weight"), q);
  EXPECT_EQ(m.entries.at("blk.0.attn_k.weight"), q);
  EXPECT_EQ(m.entries.at("blk.3.ffn_down.weight"), down);
  EXPECT_EQ(m.entries.at("output.weight"), down);
}

TEST(LlamaImatrixNames, UnknownWeightIsNamed) {
  const std::map<std::string, ImatrixEntry> by_weight = {{"model.layers.0.mlp.bogus.weight", {{1.0f}, {1.0f}, {}}}};
  try {
    llama_imatrix(by_weight, {}, 16, 1);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("model.layers.0.mlp.bogus.weight"));
  }
}

}  // namespace
}  // namespace qforge::exporters::gguf
