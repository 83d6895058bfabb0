// Weights a method encoded itself (LlamaExportOptions::encoded, docs/gguf.md §12): their rows, given in
// the Hugging Face order, land in the GGUF layout (rope-permuted q/k rows, token rows padded with the
// codec's zeros). Encoding every tensor with the plain codec that way must give the exporter's own file
// byte for byte; a type other than the mix's is refused.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_type_mix.h"
#include "fakequant/formats/ggml/block_types.h"
#include "tests/exporters/llama_gguf_test_util.h"
#include "tests/support/tiny_llama.h"

namespace qforge::exporters::gguf {
namespace {

namespace ggml = fakequant::ggml;

std::shared_ptr<layers::LlamaForCausalLM> tiny_llama(bool tied) {
  layers::LlamaConfig c = qforge::testing::tiny_llama_shape({.hidden = 256, .ffn = 256, .context = 32});
  c.tie_word_embeddings = tied;
  c.initializer_range = 0.5f;
  c.seed = 5;
  return std::make_shared<layers::LlamaForCausalLM>(c);
}

std::vector<std::string> vocabulary() {
  std::vector<std::string> v;
  for (int i = 0; i < 40; ++i) v.push_back(std::string(1, static_cast<char>('A' + i)));
  return v;
}

using qforge::testing::bytes_of;

std::map<std::string, ggml::EncodedRows> plain_encoding(const layers::LlamaForCausalLM& model,
                                                         const std::map<std::string, uint32_t>& types) {
  std::map<std::string, ggml::EncodedRows> encoded;
  for (const auto& [name, param] : model.named_parameters()) {
    const autograd::Tensor& w = param.data();
    const uint32_t type = types.at(name);
    if (w.shape().ndim() != 2 || !ggml::block_type(static_cast<int>(type)).is_quantized()) continue;
    const int64_t rows = w.shape()[0], cols = w.shape()[1];
    const ggml::BlockType& block = ggml::block_type(static_cast<int>(type));
    const int64_t row_bytes = ggml::row_bytes(block, cols);
    ggml::EncodedRows e{type, rows, cols, std::vector<std::byte>(static_cast<size_t>(rows * row_bytes))};
    for (int64_t r = 0; r < rows; ++r) block.quantize_row(w.data() + r * cols, e.bytes.data() + r * row_bytes, cols, nullptr);
    encoded[name] = std::move(e);
  }
  return encoded;
}

TEST(LlamaGgufEncoded, PlainCodecRowsGiveTheExportersFile) {
  for (bool tied : {false, true}) {
    const auto model = tiny_llama(tied);
    const auto types = llama_mix_types(*model, LlamaFileType::kQ4_K_M);
    const auto encoded = plain_encoding(*model, types);
    ASSERT_GE(encoded.size(), 15u);  // 2 layers x 7 projections + token_embd (+ output)
    LlamaExportOptions options;
    options.type = LlamaFileType::kQ4_K_M;
    const std::vector<std::byte> expected = bytes_of(build_llama_gguf(*model, vocabulary(), options));
    options.encoded = &encoded;
    EXPECT_EQ(bytes_of(build_llama_gguf(*model, vocabulary(), options)), expected) << "tied " << tied;
  }
}

TEST(LlamaGgufEncoded, TheEncodedRowsAreWrittenAndTypesMustBeTheMixs) {
  const auto model = tiny_llama(false);
  const auto types = llama_mix_types(*model, LlamaFileType::kQ4_K_M);
  auto encoded = plain_encoding(*model, types);
  LlamaExportOptions options;
  options.type = LlamaFileType::kQ4_K_M;
  const std::vector<std::byte> expected = bytes_of(build_llama_gguf(*model, vocabulary(), options));
  // The file carries the encoded rows, not a fresh encoding: swapping q's HF rows 0 and 1 shows.
  ggml::EncodedRows& q = encoded.at("model.layers.0.self_attn.q_proj.weight");
  const int64_t row_bytes = static_cast<int64_t>(q.bytes.size()) / q.rows;
  std::swap_ranges(q.bytes.begin(), q.bytes.begin() + row_bytes, q.bytes.begin() + row_bytes);
  options.encoded = &encoded;
  EXPECT_NE(bytes_of(build_llama_gguf(*model, vocabulary(), options)), expected);
  encoded.at("model.layers.0.self_attn.q_proj.weight").ggml_type = ggml::kGgmlQ6_K;
  EXPECT_THROW(build_llama_gguf(*model, vocabulary(), options), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::exporters::gguf
