// quantize-gguf's core: F32 GGUF -> requantize == direct export in that type, byte for byte
// (same mix, same rows: no second rope permutation), metadata and tensor order kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>
#include <unistd.h>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_requantize.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "tests/support/tiny_llama.h"

namespace qforge::exporters::gguf {
namespace {

std::shared_ptr<layers::LlamaForCausalLM> tiny_llama(bool tied) {
  // ffn_down rows of 96: the Q4_K_M fallbacks too
  layers::LlamaConfig c = qforge::testing::tiny_llama_shape({.vocab = 5, .hidden = 256, .ffn = 96, .context = 64});
  c.tie_word_embeddings = tied;
  c.initializer_range = 0.5f;
  c.seed = 3;
  return std::make_shared<layers::LlamaForCausalLM>(c);
}

std::vector<char> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Requantize : public ::testing::TestWithParam<std::tuple<LlamaFileType, bool>> {};

TEST_P(Requantize, EqualsDirectExport) {
  const auto [type, tied] = GetParam();
  const auto model = tiny_llama(tied);
  const std::vector<std::string> vocab = {"a", "b", "c", " ", "\n"};
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_requantize_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write_llama_gguf(dir / "f32.gguf", *model, vocab, LlamaFileType::kF32, "tiny");
  write_llama_gguf(dir / "direct.gguf", *model, vocab, type, "tiny");
  RequantizeOptions options;
  options.type = type;
  const RequantizeReport report = requantize_llama_gguf(dir / "f32.gguf", dir / "requantized.gguf", options);
  EXPECT_EQ(report.input_bytes, std::filesystem::file_size(dir / "f32.gguf"));
  EXPECT_EQ(report.quantized_tensors, type == LlamaFileType::kF32 ? 0 : (tied ? 1 : 2) + 2 * 7);
  // The same tensors (type, dims, bytes) and metadata as the direct export, in llama-quantize's order:
  // tensors by llama_loader_order, general.file_type moved last (peer.llama_quantize_presets compares
  // whole files with llama-quantize's).
  const GgufReader direct(dir / "direct.gguf"), out(dir / "requantized.gguf");
  ASSERT_EQ(out.file().tensors.size(), direct.file().tensors.size());
  for (const TensorInfo& t : direct.file().tensors) {
    const TensorInfo* o = out.file().find_tensor(t.name);
    ASSERT_NE(o, nullptr) << t.name;
    EXPECT_EQ(o->type, t.type) << t.name;
    EXPECT_EQ(o->dims, t.dims) << t.name;
    const auto a = direct.tensor_data(t.name), b = out.tensor_data(t.name);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << t.name;
  }
  EXPECT_EQ(out.file().metadata.size(), direct.file().metadata.size());
  for (const KeyValue& kv : direct.file().metadata) {
    ASSERT_NE(out.file().find(kv.key), nullptr) << kv.key;
    EXPECT_EQ(*out.file().find(kv.key), kv.value) << kv.key;
  }
  EXPECT_EQ(out.file().metadata.back().key, "general.file_type");
  EXPECT_EQ(out.file().find("general.file_type")->get<uint32_t>(), llama_ftype_id(type));
  EXPECT_EQ(out.file().tensors.front().name, tied ? "output_norm.weight" : "output.weight");
  EXPECT_EQ(out.file().tensors.back().name, "blk.1.ffn_up.weight");
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Types, Requantize,
                         ::testing::Values(std::tuple{LlamaFileType::kQ8_0, false}, std::tuple{LlamaFileType::kQ4_K_M, true},
                                           std::tuple{LlamaFileType::kQ4_K_M, false},
                                           std::tuple{LlamaFileType::kIQ4_NL, false},
                                           std::tuple{LlamaFileType::kBF16, false},
                                           std::tuple{LlamaFileType::kQ3_K_M, false}, std::tuple{LlamaFileType::kQ2_K, true},
                                           std::tuple{LlamaFileType::kQ4_0, false}));

// llama-quantize's refusal (tensor_requires_imatrix): the Q2_K tensors of a Q2_K_S file need importance;
// the error names the file type and the first such tensor in llama-quantize's order, and nothing is written.
TEST(Requantize, Q2_K_SWithoutImatrixIsRefused) {
  const auto model = tiny_llama(false);
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_requantize_s_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write_llama_gguf(dir / "f32.gguf", *model, {"a", "b", "c", " ", "\n"}, LlamaFileType::kF32, "tiny");
  RequantizeOptions options;
  options.type = LlamaFileType::kQ2_K_S;
  try {
    requantize_llama_gguf(dir / "f32.gguf", dir / "out.gguf", options);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "quantize-gguf: file type Q2_K_S needs an importance matrix (--imatrix) for tensor "
                                     "'blk.0.attn_k.weight' (Q2_K), as llama-quantize requires");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.gguf"));
  // With importance for every Q2_K block weight it is written. ffn_down (n/8 = 0 layers get Q4_K) is Q2_K,
  // whose rows of 96 fall back to Q4_0, which needs no importance.
  std::map<std::string, std::vector<float>> importance;
  for (const std::string layer : {"blk.0.", "blk.1."})
    for (const std::string t : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"})
      importance[layer + t + ".weight"] = std::vector<float>(256, 1.0f);
  options.importance = &importance;
  const RequantizeReport report = requantize_llama_gguf(dir / "f32.gguf", dir / "out.gguf", options);
  EXPECT_EQ(report.weighted_tensors, 12);
  const GgufReader out(dir / "out.gguf");
  EXPECT_EQ(out.file().find_tensor("blk.0.attn_q.weight")->type, kGgmlQ2_K);
  EXPECT_EQ(out.file().find_tensor("blk.0.ffn_down.weight")->type, kGgmlQ4_0);
  EXPECT_EQ(out.file().find("quantize.imatrix.entries_count")->get<uint32_t>(), 12u);
  std::filesystem::remove_all(dir);
}

TEST(Requantize, RejectsQuantizedInputNamingTheTensor) {
  const auto model = tiny_llama(false);
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_requantize_q_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write_llama_gguf(dir / "q8.gguf", *model, {"a", "b", "c", " ", "\n"}, LlamaFileType::kQ8_0, "tiny");
  RequantizeOptions options;
  options.type = LlamaFileType::kQ4_K_M;
  try {
    requantize_llama_gguf(dir / "q8.gguf", dir / "out.gguf", options);
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    // The first quantized input in llama-quantize's tensor order.
    EXPECT_NE(std::string(e.what()).find("'output.weight'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.gguf"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qforge::exporters::gguf
