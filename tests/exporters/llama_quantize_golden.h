#pragma once
// Shared by the tests of files written by llama.cpp's own llama-quantize (tests/golden/llama_quantize,
// made by make.sh there): the F32 inputs rebuilt in memory, block-by-block comparison of qforge's codecs
// with llama.cpp's bytes per (type, imatrix path), and qforge's decoding against the hashes of llama.cpp's
// own dequantization (dequant_fnv.txt).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf::golden {

inline const std::string kDir = std::string(QFORGE_SOURCE_DIR) + "/tests/golden/llama_quantize/";

// The models of make.sh, as bench/make_random_llama_gguf builds them.
struct TinyShape {
  int64_t layers, hidden, ffn, heads, kv_heads, vocab;
  uint64_t seed;
  bool tied;
};
constexpr TinyShape kK256{1, 256, 32, 4, 1, 8, 7, true};
constexpr TinyShape kD64{1, 64, 96, 2, 1, 8, 5, false};

inline LlamaGguf f32_input(const TinyShape& s) {
  layers::LlamaConfig c;
  c.num_hidden_layers = s.layers;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.ffn;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.vocab_size = s.vocab;
  c.seed = s.seed;
  c.tie_word_embeddings = s.tied;
  c.max_position_embeddings = 512;
  std::vector<std::string> vocabulary;
  for (int ch = 32; ch < 127; ++ch) vocabulary.emplace_back(1, static_cast<char>(ch));
  vocabulary.emplace_back("\n");
  vocabulary.resize(static_cast<size_t>(s.vocab));
  const layers::LlamaForCausalLM model(c);
  return build_llama_gguf(model, vocabulary, LlamaFileType::kF32, "random-llama");
}

// Blocks compared per (ggml type name, quantized with importance?) over a file's tensors.
struct PathCount {
  int64_t blocks = 0, differing = 0;
};
using TypeAgreement = std::map<std::pair<std::string, bool>, PathCount>;

// Each tensor of llama.cpp's file against qforge's codec of the tensor's own type (whatever preset mix
// put it there) on the same F32 rows, with the importance of the make.sh imatrix where it has an entry
// for the tensor (llama-quantize quantizes the other tensors without one); imatrix_file "" for a file
// quantized without one.
inline TypeAgreement compare_by_type(const std::string& file, const TinyShape& shape, const std::string& imatrix_file) {
  const LlamaGguf input = f32_input(shape);
  const GgufReader golden{std::filesystem::path(kDir + file)};
  const auto importance = imatrix_file.empty() ? decltype(read_imatrix(kDir)){} : read_imatrix(kDir + imatrix_file);
  TypeAgreement a;
  for (size_t i = 0; i < input.file.tensors.size(); ++i) {
    const TensorInfo& t = input.file.tensors[i];
    const TensorInfo* g = golden.file().find_tensor(t.name);
    if (g == nullptr) { ADD_FAILURE() << file << ": no tensor " << t.name; continue; }
    const auto& codec = fakequant::ggml::decoder_type(static_cast<int>(g->type));
    if (!codec.has_codec()) continue;  // a decode-only row would have no bytes to compare
    const auto imp = importance.find(t.name);
    const float* qw = imp == importance.end() ? nullptr : imp->second.data();
    const int64_t k = static_cast<int64_t>(t.dims[0]);
    const int64_t rows = static_cast<int64_t>(input.tensor_bytes[i].size() / sizeof(float)) / k;
    const int64_t row_bytes = fakequant::ggml::row_bytes(codec, k);
    std::vector<std::byte> ours(static_cast<size_t>(row_bytes));
    const auto theirs = golden.tensor_data(t.name);
    PathCount& count = a[{codec.name, qw != nullptr}];
    for (int64_t r = 0; r < rows; ++r) {
      codec.quantize_row(reinterpret_cast<const float*>(input.tensor_bytes[i].data()) + r * k, ours.data(), k, qw);
      for (int64_t b = 0; b < k / codec.block_elements; ++b) {
        ++count.blocks;
        count.differing += std::memcmp(ours.data() + b * codec.block_bytes,
                                       theirs.data() + r * row_bytes + b * codec.block_bytes, codec.block_bytes) != 0;
      }
    }
  }
  for (const auto& [key, c] : a) {
    std::printf("%s: %s %s: %lld of %lld blocks differ\n", file.c_str(), key.first.c_str(),
                key.second ? "with imatrix" : "without imatrix", (long long)c.differing, (long long)c.blocks);
  }
  return a;
}

inline uint64_t fnv1a(const void* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001b3ull;
  return h;
}

// qforge's decoding of every tensor of `file` against the hash of llama.cpp's own dequantization of it
// (dequant_fnv.txt, make.sh): returns the number of tensors of each type whose floats are bit-identical.
inline std::map<std::string, int> decode_matches(const std::string& file) {
  std::ifstream in(kDir + "dequant_fnv.txt");
  const GgufReader golden{std::filesystem::path(kDir + file)};
  std::map<std::string, int> identical;
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name, tensor, type, hash;
    int64_t n = 0;
    fields >> name >> tensor >> type >> n >> hash;
    if (name != file) continue;
    ++lines;
    const fakequant::ggml::BlockType* known = fakequant::ggml::find_type(type);
    if (known == nullptr || !known->has_decoder()) { ADD_FAILURE() << file << " " << tensor << ": no decoder for " << type; continue; }
    const auto& codec = *known;
    const auto bytes = golden.tensor_data(tensor);
    EXPECT_EQ(static_cast<int64_t>(bytes.size()), fakequant::ggml::row_bytes(codec, n)) << tensor;
    std::vector<float> y(static_cast<size_t>(n));
    codec.dequantize_row(bytes.data(), y.data(), n);
    char ours[17];
    std::snprintf(ours, sizeof(ours), "%016llx", (unsigned long long)fnv1a(y.data(), y.size() * sizeof(float)));
    EXPECT_EQ(ours, hash) << file << " " << tensor << " (" << type << ")";
    identical[type] += ours == hash;
  }
  EXPECT_EQ(static_cast<size_t>(lines), golden.file().tensors.size()) << file;
  return identical;
}

// Every block of `type` identical, on both paths, and at least `min_blocks` of each compared.
inline void expect_identical(const TypeAgreement& a, const std::string& type, int64_t min_blocks) {
  for (const bool with_imatrix : {false, true}) {
    const auto it = a.find({type, with_imatrix});
    ASSERT_NE(it, a.end()) << type << (with_imatrix ? " with" : " without") << " imatrix: no tensor";
    EXPECT_GE(it->second.blocks, min_blocks) << type;
    EXPECT_EQ(it->second.differing, 0) << type << (with_imatrix ? " with" : " without") << " imatrix";
  }
}

}  // namespace qforge::exporters::gguf::golden
