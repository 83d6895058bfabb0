// llama.cpp LoRA adapter GGUF (exporters/lora/gguf_lora_adapter.h, docs/gguf.md §10) and the merge into
// a model (apply_lora.h): keys, names, ne, the q/k permutation on lora_b only, round trip, alpha rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/lora/apply_lora.h"
#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"
#include "lora_test_util.h"
#include "tests/support/error_of.h"

namespace lo = qforge::exporters::lora;
namespace gg = qforge::exporters::gguf;
using qforge::autograd::Tensor;
using qforge::testing::error_of;
using ::testing::HasSubstr;

namespace {

std::filesystem::path temp_file(const std::string& name) { return std::filesystem::temp_directory_path() / name; }

lo::LoraAdapterConfig config_r4(double alpha) {
  lo::LoraAdapterConfig c;
  c.r = 4;
  c.lora_alpha = alpha;
  return c;
}

std::vector<float> floats_of(std::span<const std::byte> bytes) {
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

}  // namespace

TEST(GgufLoraAdapter, WritesKeysNamesShapesAndPermutesOnlyLoraB) {
  const auto cfg = qforge::testing::tiny_llama_shape();
  const auto lora = qforge::testing::random_lora(cfg, 4, 1);
  const auto path = temp_file("qforge_test_adapter.gguf");
  lo::write_gguf_lora_adapter(path, lora, config_r4(8), cfg);
  const gg::GgufReader reader(path);
  const gg::GgufFile& f = reader.file();
  EXPECT_EQ(f.find("general.type")->get<std::string>(), "adapter");
  EXPECT_EQ(f.find("general.architecture")->get<std::string>(), "llama");
  EXPECT_EQ(f.find("adapter.type")->get<std::string>(), "lora");
  EXPECT_EQ(f.find("adapter.lora.alpha")->get<float>(), 8.0f);
  ASSERT_EQ(f.tensors.size(), 20u);
  const gg::TensorInfo* a = f.find_tensor("blk.1.attn_q.weight.lora_a");
  const gg::TensorInfo* b = f.find_tensor("blk.1.attn_q.weight.lora_b");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->dims, (std::vector<uint64_t>{32, 4}));  // ne [in, r]
  EXPECT_EQ(b->dims, (std::vector<uint64_t>{4, 32}));  // ne [r, out]
  EXPECT_EQ(a->type, 0u);  // F32
  EXPECT_TRUE(f.find_tensor("blk.0.ffn_down.weight.lora_a") && f.find_tensor("blk.0.attn_output.weight.lora_b"));
  const Tensor& qa = lora.at("model.layers.1.self_attn.q_proj.lora_A.weight");
  const Tensor& qb = lora.at("model.layers.1.self_attn.q_proj.lora_B.weight");
  EXPECT_EQ(floats_of(reader.tensor_data(a->name)), qa.to_vector());  // lora_a as is
  std::vector<float> permuted(qb.numel());
  gg::permute_rope_rows(qb.data(), permuted.data(), 32, 4, cfg.num_attention_heads);
  EXPECT_EQ(floats_of(reader.tensor_data(b->name)), permuted);
  EXPECT_NE(permuted, qb.to_vector());
  const Tensor& kb = lora.at("model.layers.0.self_attn.k_proj.lora_B.weight");
  std::vector<float> k_permuted(kb.numel());
  gg::permute_rope_rows(kb.data(), k_permuted.data(), 16, 4, cfg.num_key_value_heads);
  EXPECT_EQ(floats_of(reader.tensor_data("blk.0.attn_k.weight.lora_b")), k_permuted);
  const Tensor& vb = lora.at("model.layers.0.self_attn.v_proj.lora_B.weight");
  EXPECT_EQ(floats_of(reader.tensor_data("blk.0.attn_v.weight.lora_b")), vb.to_vector());  // v unpermuted
  std::filesystem::remove(path);
}

TEST(GgufLoraAdapter, ReadBackGivesIdenticalTensorsAndAlphaRules) {
  const auto cfg = qforge::testing::tiny_llama_shape();
  const auto lora = qforge::testing::random_lora(cfg, 4, 2);
  const auto path = temp_file("qforge_test_adapter_rt.gguf");
  lo::LoraAdapterConfig rs = config_r4(6);
  rs.use_rslora = true;
  lo::write_gguf_lora_adapter(path, lora, rs, cfg);
  const lo::LoraAdapter back = lo::read_gguf_lora_adapter(path, cfg);
  ASSERT_EQ(back.tensors.size(), lora.size());
  for (const auto& [name, t] : lora)
    EXPECT_EQ(back.tensors.at(name).to_vector(), t.to_vector()) << name;
  EXPECT_EQ(back.config.r, 4);
  EXPECT_FLOAT_EQ(static_cast<float>(back.config.lora_alpha), 12.0f);  // alpha · sqrt(r) = 6 · 2
  EXPECT_NEAR(back.config.scaling(), rs.scaling(), 1e-6);                // = 6 / sqrt(4) = 3
  EXPECT_FALSE(back.config.use_rslora);
  lo::write_gguf_lora_adapter(path, lora, config_r4(0), cfg);  // alpha 0 -> scale = user scale (§10)
  EXPECT_DOUBLE_EQ(lo::read_gguf_lora_adapter(path, cfg).config.scaling(), 1.0);
  std::filesystem::remove(path);
}

TEST(ApplyLora, MergesUserScaleTimesAlphaOverRTimesBA) {
  const auto cfg = qforge::testing::tiny_llama_shape();
  qforge::layers::LlamaForCausalLM model(cfg);
  const auto lora = qforge::testing::random_lora(cfg, 4, 3);
  lo::LoraAdapter adapter{lora, config_r4(8)};
  std::map<std::string, std::vector<float>> before;
  for (auto& [name, p] : model.named_parameters()) before[name] = p.data().to_vector();
  lo::apply_lora(model, adapter, 0.5);
  const double scale = 0.5 * 8.0 / 4.0;
  int changed = 0;
  for (auto& [name, p] : model.named_parameters()) {
    const std::vector<float> now = p.data().to_vector();
    const std::string module = name.substr(0, name.size() - std::string(".weight").size());
    if (!lora.count(module + ".lora_A.weight")) {
      EXPECT_EQ(now, before[name]) << name;
      continue;
    }
    ++changed;
    const Tensor& a = lora.at(module + ".lora_A.weight");
    const Tensor& b = lora.at(module + ".lora_B.weight");
    const int64_t r = a.shape()[0], in = a.shape()[1], out = b.shape()[0];
    double max_err = 0, max_delta = 0;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        double ba = 0;
        for (int64_t k = 0; k < r; ++k) ba += double(b.data()[o * r + k]) * a.data()[k * in + i];
        max_err = std::max(max_err, std::fabs(now[o * in + i] - (before[name][o * in + i] + scale * ba)));
        max_delta = std::max(max_delta, std::fabs(scale * ba));
      }
    EXPECT_LT(max_err, 2e-6) << name;
    EXPECT_GT(max_delta, 0.1) << name;
  }
  EXPECT_EQ(changed, 10);
}

TEST(ApplyLora, ErrorsNameTheTensor) {
  const auto cfg = qforge::testing::tiny_llama_shape();
  qforge::layers::LlamaForCausalLM model(cfg);
  auto lora = qforge::testing::random_lora(cfg, 4, 4);
  lora.emplace("model.layers.7.self_attn.q_proj.lora_A.weight", Tensor::zeros({4, 32}));
  lora.emplace("model.layers.7.self_attn.q_proj.lora_B.weight", Tensor::zeros({32, 4}));
  EXPECT_THAT(error_of([&] { lo::apply_lora(model, {lora, config_r4(8)}, 1.0); }),
              HasSubstr("base tensor 'model.layers.7.self_attn.q_proj.weight' not found"));
  auto wrong = qforge::testing::random_lora(cfg, 4, 5);
  wrong["model.layers.0.mlp.down_proj.lora_A.weight"] = Tensor::zeros({4, 40});
  EXPECT_THAT(error_of([&] { lo::apply_lora(model, {wrong, config_r4(8)}, 1.0); }),
              HasSubstr("tensor 'model.layers.0.mlp.down_proj.weight' shape [32, 48] != [lora_B rows 32, lora_A cols 40]"));
}

TEST(ApplyLora, PeftDirectoryAndGgufFileLoadTheSameAdapter) {
  const auto cfg = qforge::testing::tiny_llama_shape();
  const auto lora = qforge::testing::random_lora(cfg, 4, 6);
  const auto dir = temp_file("qforge_test_lora_both");
  std::filesystem::remove_all(dir);
  lo::save_peft_adapter(dir / "peft", lora, config_r4(8));
  lo::write_gguf_lora_adapter(dir / "adapter.gguf", lora, config_r4(8), cfg);
  const auto peft = lo::load_lora_adapter(dir / "peft", cfg);
  const auto gguf = lo::load_lora_adapter(dir / "adapter.gguf", cfg);
  EXPECT_EQ(peft.config.scaling(), gguf.config.scaling());
  for (const auto& [name, t] : lora) {
    EXPECT_EQ(peft.tensors.at(name).to_vector(), t.to_vector());
    EXPECT_EQ(gguf.tensors.at(name).to_vector(), t.to_vector());
  }
  std::filesystem::remove_all(dir);
}
