// HF <-> GGUF tensor names and the rotary row permutation (docs/gguf.md §3, §5).
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "exporters/gguf/llama_tensor_names.h"

namespace qforge::exporters::gguf {
namespace {

TEST(LlamaTensorNames, EveryHfNameMapsAndBack) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight"},
      {"model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight"},
      {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
      {"model.layers.1.post_attention_layernorm.weight", "blk.1.ffn_norm.weight"},
      {"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
      {"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight"},
      {"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
  };
  for (const auto& [hf, gg] : pairs) {
    EXPECT_EQ(gguf_tensor_name(hf), gg) << hf;
    EXPECT_EQ(hf_tensor_name(gg), hf) << gg;
  }
  EXPECT_EQ(gguf_tensor_name("model.layers.0.mlp.up_proj.weight_quantizer.scale"), std::nullopt);
  EXPECT_EQ(hf_tensor_name("blk.0.attn_qkv.weight"), std::nullopt);  
}

// A fused attn_qkv (convert_hf_to_gguf.py --fuse-qkv) holds q, k, v in this order (docs/gguf.md §3).
TEST(LlamaTensorNames, FusedQkvPartsInRowOrder) {
  const auto parts = fused_qkv_hf_names("blk.12.attn_qkv.bias");
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ((*parts)[0], "model.layers.12.self_attn.q_proj.bias");
  EXPECT_EQ((*parts)[1], "model.layers.12.self_attn.k_proj.bias");
  EXPECT_EQ((*parts)[2], "model.layers.12.self_attn.v_proj.bias");
  EXPECT_EQ(fused_qkv_hf_names("blk.1.attn_q.weight"), std::nullopt);
  EXPECT_EQ(fused_qkv_hf_names("blk.1.attn_qkv.scale"), std::nullopt);
  const auto k = fused_qkv_part("model.layers.3.self_attn.k_proj.weight");
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->gguf_name, "blk.3.attn_qkv.weight");
  EXPECT_EQ(k->index, 1);
  EXPECT_EQ(fused_qkv_part("model.layers.3.self_attn.v_proj.bias")->index, 2);
  EXPECT_EQ(fused_qkv_part("model.layers.3.self_attn.q_proj.weight")->gguf_name, "blk.3.attn_qkv.weight");
  EXPECT_FALSE(fused_qkv_part("model.layers.3.self_attn.o_proj.weight").has_value());
  EXPECT_FALSE(fused_qkv_part("model.layers.3.mlp.up_proj.weight").has_value());
}

TEST(RopePermutation, HeadOfEightRowsFollowsTheConverterRule) {
  // One head, head_dim 8, one column holding the row index: new row 2i + j <- old row j*4 + i.
  std::vector<float> in(8), out(8), back(8);
  std::iota(in.begin(), in.end(), 0.0f);
  permute_rope_rows(in.data(), out.data(), 8, 1, 1);
  EXPECT_EQ(out, (std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7}));
  unpermute_rope_rows(out.data(), back.data(), 8, 1, 1);
  EXPECT_EQ(back, in);
}

TEST(RopePermutation, HeadsArePermutedIndependentlyAndBadShapesThrow) {
  std::vector<float> in(2 * 4 * 3), out(in.size()), back(in.size());
  std::iota(in.begin(), in.end(), 0.0f);
  permute_rope_rows(in.data(), out.data(), 8, 3, 2);
  // Head 1 (rows 4..7): new row 4 + 1 <- old row 4 + 2.
  EXPECT_EQ(out[5 * 3 + 0], in[6 * 3 + 0]);
  EXPECT_EQ(out[5 * 3 + 2], in[6 * 3 + 2]);
  unpermute_rope_rows(out.data(), back.data(), 8, 3, 2);
  EXPECT_EQ(back, in);
  EXPECT_THROW(permute_rope_rows(in.data(), out.data(), 8, 3, 3), std::invalid_argument);
  EXPECT_THROW(permute_rope_rows(in.data(), out.data(), 6, 4, 2), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::exporters::gguf
