// quantize-gguf's core: F32 GGUF -> requantize == direct export in that type, byte for byte
// (same mix, same rows: no second rope permutation), metadata and tensor order kept.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_requantize.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"

namespace qforge::exporters::gguf {
namespace {

std::shared_ptr<layers::LlamaForCausalLM> tiny_llama(bool tied) {
  layers::LlamaConfig c;
  c.vocab_size = 5;
  c.hidden_size = 256;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 96;  // ffn_down rows of 96: the Q4_K_M fallbacks too
  c.max_position_embeddings = 64;
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
  // Whole files identical: metadata (incl. general.file_type), tensor order, types and data.
  EXPECT_EQ(file_bytes(dir / "requantized.gguf"), file_bytes(dir / "direct.gguf"));
  const GgufReader out(dir / "requantized.gguf");
  EXPECT_EQ(out.file().find("general.file_type")->get<uint32_t>(), llama_ftype_id(type));
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Types, Requantize,
                         ::testing::Values(std::tuple{LlamaFileType::kQ8_0, false}, std::tuple{LlamaFileType::kQ4_K_M, true},
                                           std::tuple{LlamaFileType::kQ4_K_M, false},
                                           std::tuple{LlamaFileType::kIQ4_NL, false},
                                           std::tuple{LlamaFileType::kBF16, false}));

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
    EXPECT_NE(std::string(e.what()).find("token_embd.weight"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.gguf"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qforge::exporters::gguf
