// PEFT LoRA directories (exporters/lora/peft_adapter.h) against docs/peft-lora.md §1-§4: file
// names, tensor names and shapes, the exact adapter_config.json keys, round trip, rejected features.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "exporters/lora/peft_adapter.h"
#include "exporters/safetensors/safetensors.h"
#include "lora_test_util.h"
#include "tests/support/error_of.h"

namespace lo = qforge::exporters::lora;
using qforge::testing::error_of;
using ::testing::HasSubstr;

namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_test_peft_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

lo::LoraAdapterConfig sample_config() {
  lo::LoraAdapterConfig c;
  c.r = 4;
  c.lora_alpha = 8;
  c.base_model_name_or_path = "char_llama";
  return c;
}

nlohmann::json read_config(const std::filesystem::path& dir) {
  std::ifstream in(dir / "adapter_config.json");
  return nlohmann::json::parse(in);
}

void write_config(const std::filesystem::path& dir, const nlohmann::json& j) {
  std::ofstream(dir / "adapter_config.json") << j.dump();
}

}  // namespace

TEST(PeftAdapter, WritesTheDocumentedLayout) {
  const auto cfg = qforge::testing::tiny_llama_shape();
  const auto lora = qforge::testing::random_lora(cfg, 4, 10);
  const auto dir = fresh_dir("layout");
  lo::save_peft_adapter(dir, lora, sample_config());
  const auto file = qforge::exporters::safetensors::read_safetensors(dir / "adapter_model.safetensors");
  ASSERT_EQ(file.tensors.size(), 20u);
  const auto& a = file.tensors.at("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight");
  const auto& b = file.tensors.at("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight");
  EXPECT_EQ(a.shape(), (qforge::autograd::Shape{4, 32}));  // [r, in]
  EXPECT_EQ(b.shape(), (qforge::autograd::Shape{16, 4}));  // [out, r]: 2 kv heads x head_dim 8
  EXPECT_EQ(file.metadata.at("format"), "pt");
  const nlohmann::json j = read_config(dir);
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("peft_type", "task_type", "base_model_name_or_path", "r", "lora_alpha",
                                                    "target_modules", "lora_dropout", "bias", "fan_in_fan_out", "use_rslora",
                                                    "use_dora", "modules_to_save", "rank_pattern", "alpha_pattern",
                                                    "inference_mode"));
  EXPECT_EQ(j["peft_type"], "LORA");
  EXPECT_EQ(j["task_type"], "CAUSAL_LM");
  EXPECT_EQ(j["r"], 4);
  EXPECT_TRUE(j["lora_alpha"].is_number_integer());
  EXPECT_EQ(j["lora_alpha"], 8);
  EXPECT_EQ(j["target_modules"], (nlohmann::json{"down_proj", "k_proj", "o_proj", "q_proj", "v_proj"}));
  EXPECT_EQ(j["bias"], "none");
  EXPECT_TRUE(j["modules_to_save"].is_null());
  EXPECT_EQ(j["rank_pattern"], nlohmann::json::object());
  std::filesystem::remove_all(dir);
}

TEST(PeftAdapter, ExportImportGivesIdenticalTensors) {
  const auto lora = qforge::testing::random_lora(qforge::testing::tiny_llama_shape(), 4, 20);
  const auto dir = fresh_dir("roundtrip");
  lo::LoraAdapterConfig c = sample_config();
  c.use_rslora = true;
  c.lora_alpha = 6.5;
  lo::save_peft_adapter(dir, lora, c);
  const lo::LoraAdapter back = lo::load_peft_adapter(dir);
  ASSERT_EQ(back.tensors.size(), lora.size());
  for (const auto& [name, t] : lora) {
    const auto& u = back.tensors.at(name);
    ASSERT_EQ(u.shape(), t.shape()) << name;
    EXPECT_EQ(std::memcmp(u.data(), t.data(), sizeof(float) * t.numel()), 0) << name;
  }
  EXPECT_EQ(back.config.r, 4);
  EXPECT_EQ(back.config.lora_alpha, 6.5);
  EXPECT_TRUE(back.config.use_rslora);
  EXPECT_DOUBLE_EQ(back.config.scaling(), 6.5 / 2.0);
  EXPECT_EQ(back.config.base_model_name_or_path, "char_llama");
  std::filesystem::remove_all(dir);
}

TEST(PeftAdapter, UnsupportedFeaturesAndBadFilesAreNamed) {
  const auto lora = qforge::testing::random_lora(qforge::testing::tiny_llama_shape(), 4, 30);
  const auto dir = fresh_dir("errors");
  lo::save_peft_adapter(dir, lora, sample_config());
  const nlohmann::json good = read_config(dir);
  auto load_error = [&](const nlohmann::json& j) {
    write_config(dir, j);
    return error_of([&] { lo::load_peft_adapter(dir); });
  };
  nlohmann::json j = good;
  j["rank_pattern"] = {{"q_proj", 8}};
  EXPECT_THAT(load_error(j), HasSubstr("key rank_pattern = {\"q_proj\":8} is not supported"));
  j = good;
  j["alpha_pattern"] = {{"q_proj", 8}};
  EXPECT_THAT(load_error(j), HasSubstr("alpha_pattern"));
  j = good;
  j["use_dora"] = true;
  EXPECT_THAT(load_error(j), HasSubstr("use_dora = true is not supported"));
  j = good;
  j["r"] = 8;
  EXPECT_THAT(load_error(j), HasSubstr("down_proj.lora_A.weight' shape [4, 48]: rows != r 8"));
  j = good;
  j.erase("lora_alpha");
  EXPECT_THAT(load_error(j), HasSubstr("key lora_alpha missing"));
  j = good;
  j["peft_type"] = "IA3";
  EXPECT_THAT(load_error(j), HasSubstr("peft_type is \"IA3\""));
  write_config(dir, good);
  EXPECT_NO_THROW(lo::load_peft_adapter(dir));

  auto stored = qforge::exporters::safetensors::read_safetensors(dir / "adapter_model.safetensors").tensors;
  stored.emplace("base_model.model.model.layers.0.mlp.down_proj.lora_magnitude_vector", qforge::autograd::Tensor::zeros({32}));
  qforge::exporters::safetensors::write_safetensors(dir / "adapter_model.safetensors", stored);
  EXPECT_THAT(error_of([&] { lo::load_peft_adapter(dir); }),
              testing::ContainsRegex("peft adapter: .*adapter_model\\.safetensors: tensor '[^']*lora_magnitude_vector' at byte "
                                     "[0-9]+: lora_magnitude_vector is not supported"));

  auto missing_b = lora;
  missing_b.erase("model.layers.0.mlp.down_proj.lora_B.weight");
  EXPECT_THAT(error_of([&] { lo::save_peft_adapter(dir, missing_b, sample_config()); }),
              HasSubstr("tensor 'model.layers.0.mlp.down_proj.lora_B.weight' missing"));
  auto dora = lora;
  dora.emplace("model.layers.0.mlp.down_proj.lora_magnitude_vector.weight", qforge::autograd::Tensor::zeros({32}));
  EXPECT_THAT(error_of([&] { lo::save_peft_adapter(dir, dora, sample_config()); }), HasSubstr("is not a LoRA weight"));
  std::filesystem::remove_all(dir);
}
