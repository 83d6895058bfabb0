// Files written by llama.cpp's own llama-quantize (tests/golden/llama_quantize, made by make.sh there)
// load in qforge, and qforge's codecs give the same bytes from the same F32 input, block by block.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_requantize.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::exporters::gguf {
namespace {

// Measured on the committed files: every block identical (2220 Q8_0, 1995 Q4_K_M incl. Q4_K/Q6_K/
// Q5_0/Q8_0, 2220 IQ4_NL/Q8_0 blocks). block_common.h warns that a llama.cpp build contracting a·b + c
// into FMA may differ in a few percent of k-quant / IQ4_NL blocks; this build (GCC 12, -O3
// -march=native, node-llama-cpp's llama.cpp) did not on these files, so any difference is a regression.
constexpr int64_t kQ4_K_MDifferingBlocks = 0;
constexpr int64_t kIQ4_NLDifferingBlocks = 0;
constexpr int64_t kIQ4_NLDifferingTypes = 0;  // output.weight: Q6_K -> Q8_0 (rows of 64) in both

const std::string kDir = std::string(QFORGE_SOURCE_DIR) + "/tests/golden/llama_quantize/";

// The models of make.sh, as bench/make_random_llama_gguf builds them.
struct TinyShape {
  int64_t layers, hidden, ffn, heads, kv_heads, vocab;
  uint64_t seed;
  bool tied;
};
constexpr TinyShape kK256{1, 256, 32, 4, 1, 8, 7, true};
constexpr TinyShape kD64{1, 64, 96, 2, 1, 8, 5, false};

LlamaGguf f32_input(const TinyShape& s) {
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

struct Agreement {
  int64_t blocks = 0, differing_blocks = 0, tensors = 0, differing_types = 0;
  double max_rel_rmse = 0;  // of llama.cpp's dequantized weights against the F32 input, per tensor
};

// Each tensor of llama.cpp's file against qforge's encoding of the same F32 rows in the same type.
Agreement compare(const std::string& file, const TinyShape& shape, LlamaFileType type) {
  const LlamaGguf input = f32_input(shape);
  const GgufReader golden{std::filesystem::path(kDir + file)};
  const std::vector<uint32_t> our_types = requantized_types(input.file, type);
  Agreement a;
  EXPECT_EQ(golden.file().tensors.size(), input.file.tensors.size()) << file;
  for (size_t i = 0; i < input.file.tensors.size(); ++i) {
    const TensorInfo& t = input.file.tensors[i];
    const TensorInfo* g = golden.file().find_tensor(t.name);
    if (g == nullptr) { ADD_FAILURE() << file << ": no tensor " << t.name; continue; }
    EXPECT_EQ(g->dims, t.dims) << t.name;
    a.differing_types += g->type != our_types[i];
    const auto& codec = fakequant::ggml::block_type(static_cast<int>(g->type));
    const int64_t k = static_cast<int64_t>(t.dims[0]);
    const int64_t rows = static_cast<int64_t>(input.tensor_bytes[i].size() / sizeof(float)) / k;
    const int64_t row_bytes = fakequant::ggml::row_bytes(codec, k);
    std::vector<std::byte> ours(static_cast<size_t>(row_bytes));
    std::vector<float> back(static_cast<size_t>(k));
    const auto theirs = golden.tensor_data(t.name);
    double err = 0, ref = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = reinterpret_cast<const float*>(input.tensor_bytes[i].data()) + r * k;
      codec.quantize_row(x, ours.data(), k, nullptr);
      for (int64_t b = 0; b < k / codec.block_elements; ++b) {
        ++a.blocks;
        a.differing_blocks += std::memcmp(ours.data() + b * codec.block_bytes,
                                          theirs.data() + r * row_bytes + b * codec.block_bytes, codec.block_bytes) != 0;
      }
      codec.dequantize_row(theirs.data() + r * row_bytes, back.data(), k);
      for (int64_t j = 0; j < k; ++j) err += (back[j] - x[j]) * double(back[j] - x[j]), ref += x[j] * double(x[j]);
    }
    ++a.tensors;
    if (ref > 0) a.max_rel_rmse = std::max(a.max_rel_rmse, std::sqrt(err / ref));
  }
  std::printf("%s: %lld tensors (%lld with another type than qforge's mix), %lld of %lld blocks differ, "
              "max relative rmse %.4f\n", file.c_str(), (long long)a.tensors, (long long)a.differing_types,
              (long long)a.differing_blocks, (long long)a.blocks, a.max_rel_rmse);
  return a;
}

// Blocks compared per (ggml type name, quantized with importance?) over a file's tensors.
struct PathCount {
  int64_t blocks = 0, differing = 0;
};
using TypeAgreement = std::map<std::pair<std::string, bool>, PathCount>;

// Each tensor of llama.cpp's file against qforge's codec of the tensor's own type (whatever preset mix
// put it there) on the same F32 rows, with the importance of the make.sh imatrix where it has an entry
// for the tensor (llama-quantize quantizes the other tensors without one).
TypeAgreement compare_by_type(const std::string& file, const TinyShape& shape, const std::string& imatrix_file) {
  const LlamaGguf input = f32_input(shape);
  const GgufReader golden{std::filesystem::path(kDir + file)};
  const auto importance = read_imatrix(kDir + imatrix_file);
  TypeAgreement a;
  for (size_t i = 0; i < input.file.tensors.size(); ++i) {
    const TensorInfo& t = input.file.tensors[i];
    const TensorInfo* g = golden.file().find_tensor(t.name);
    if (g == nullptr) { ADD_FAILURE() << file << ": no tensor " << t.name; continue; }
    const auto& codec = fakequant::ggml::block_type(static_cast<int>(g->type));
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

uint64_t fnv1a(const void* data, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(data)[i]) * 0x100000001b3ull;
  return h;
}

// qforge's decoding of every tensor of `file` against the hash of llama.cpp's own dequantization of it
// (dequant_fnv.txt, make.sh): returns the number of tensors of each type whose floats are bit-identical.
std::map<std::string, int> decode_matches(const std::string& file) {
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
    const auto& codec = fakequant::ggml::block_type(type);
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
void expect_identical(const TypeAgreement& a, const std::string& type, int64_t min_blocks) {
  for (const bool with_imatrix : {false, true}) {
    const auto it = a.find({type, with_imatrix});
    ASSERT_NE(it, a.end()) << type << (with_imatrix ? " with" : " without") << " imatrix: no tensor";
    EXPECT_GE(it->second.blocks, min_blocks) << type;
    EXPECT_EQ(it->second.differing, 0) << type << (with_imatrix ? " with" : " without") << " imatrix";
  }
}

TEST(LlamaQuantizeGolden, Q4_0Q4_1Q5_1BytesWithAndWithoutImatrix) {
  for (const auto& [file, type] : {std::pair{"d64_Q4_0_imatrix.gguf", "q4_0"}, std::pair{"d64_Q4_1_imatrix.gguf", "q4_1"},
                                   std::pair{"d64_Q5_1_imatrix.gguf", "q5_1"}}) {
    const TypeAgreement a = compare_by_type(file, kD64, "imatrix_d64.dat");
    expect_identical(a, type, 200);
    EXPECT_EQ(a.at({"q8_0", false}).differing, 0);  // output.weight
    const auto decoded = decode_matches(file);
    EXPECT_EQ(decoded.at(type), 8) << file;  // token_embd and the 7 layer weights (output.weight: q8_0)
  }
}

TEST(LlamaQuantizeGolden, Q2_KBytesWithAndWithoutImatrix) {
  const TypeAgreement a = compare_by_type("k256_Q2_K_imatrix.gguf", kK256, "imatrix_k256.dat");
  expect_identical(a, "q2_K", 32);
  for (const auto& [key, count] : a) EXPECT_EQ(count.differing, 0) << key.first << " " << key.second;
  const auto decoded = decode_matches("k256_Q2_K_imatrix.gguf");
  EXPECT_EQ(decoded.at("q2_K"), 4);  // attn_q, attn_k, ffn_gate, ffn_up
}

TEST(LlamaQuantizeGolden, Q3_K_MBytesWithAndWithoutImatrix) {
  const TypeAgreement a = compare_by_type("k256_Q3_K_M_imatrix.gguf", kK256, "imatrix_k256.dat");
  expect_identical(a, "q3_K", 32);
  for (const auto& [key, count] : a) EXPECT_EQ(count.differing, 0) << key.first << " " << key.second;
  const auto decoded = decode_matches("k256_Q3_K_M_imatrix.gguf");
  EXPECT_EQ(decoded.at("q3_K"), 4);  // attn_q, attn_k, ffn_gate, ffn_up
}

TEST(LlamaQuantizeGolden, Q5_K_MBytesWithAndWithoutImatrix) {
  const TypeAgreement a = compare_by_type("k256_Q5_K_M_imatrix.gguf", kK256, "imatrix_k256.dat");
  expect_identical(a, "q5_K", 32);
  for (const auto& [key, count] : a) EXPECT_EQ(count.differing, 0) << key.first << " " << key.second;
  const auto decoded = decode_matches("k256_Q5_K_M_imatrix.gguf");
  EXPECT_EQ(decoded.at("q5_K"), 5);  // attn_q, attn_k, attn_output, ffn_gate, ffn_up
}

TEST(LlamaQuantizeGolden, FilesLoadAsLlamaModels) {
  for (const auto& [file, hidden, tied] : {std::tuple{"k256_Q4_K_M.gguf", 256, true},
                                          std::tuple{"d64_Q8_0.gguf", 64, false},
                                          std::tuple{"d64_IQ4_NL.gguf", 64, false},
                                          std::tuple{"d64_Q4_0_imatrix.gguf", 64, false},
                                          std::tuple{"d64_Q4_1_imatrix.gguf", 64, false},
                                          std::tuple{"d64_Q5_1_imatrix.gguf", 64, false},
                                          std::tuple{"k256_Q2_K_imatrix.gguf", 256, true},
                                          std::tuple{"k256_Q3_K_M_imatrix.gguf", 256, true},
                                          std::tuple{"k256_Q5_K_M_imatrix.gguf", 256, true}}) {
    const ImportedLlama m = read_llama_gguf(std::filesystem::path(kDir + file));
    EXPECT_EQ(m.model->config().hidden_size, hidden) << file;
    EXPECT_EQ(m.model->config().vocab_size, 8 + 259) << file;
    EXPECT_EQ(m.model->config().tie_word_embeddings, tied) << file;
    EXPECT_EQ(m.tokens.size(), 8u + 259u) << file;
  }
}

TEST(LlamaQuantizeGolden, Q8_0BytesIdentical) {
  const Agreement a = compare("d64_Q8_0.gguf", kD64, LlamaFileType::kQ8_0);
  EXPECT_EQ(a.differing_types, 0);
  EXPECT_EQ(a.differing_blocks, 0);  // no contractible sum in Q8_0: any build agrees
  EXPECT_GT(a.blocks, 1000);
  EXPECT_LT(a.max_rel_rmse, 0.01);  // the input really is the same model
}

TEST(LlamaQuantizeGolden, Q4_K_MSameMixAndBytes) {
  const Agreement a = compare("k256_Q4_K_M.gguf", kK256, LlamaFileType::kQ4_K_M);
  EXPECT_EQ(a.differing_types, 0);
  EXPECT_LE(a.differing_blocks, kQ4_K_MDifferingBlocks);
  EXPECT_LT(a.max_rel_rmse, 0.2);
}

TEST(LlamaQuantizeGolden, IQ4_NLBytes) {
  const Agreement a = compare("d64_IQ4_NL.gguf", kD64, LlamaFileType::kIQ4_NL);
  EXPECT_EQ(a.differing_types, kIQ4_NLDifferingTypes);
  EXPECT_LE(a.differing_blocks, kIQ4_NLDifferingBlocks);
  EXPECT_LT(a.max_rel_rmse, 0.2);
}

// llama-quantize's type for every quantizable tensor (loader order) of three random llamas, per file type,
// without and with an imatrix (preset_types.txt, written by make.sh through
// tools/llamacpp/quantize_presets.sh), against qforge's mix table on the same F32 models.
TEST(LlamaQuantizeGolden, PresetMixesAreLlamaQuantizes) {
  const std::map<std::string, TinyShape> shapes = {{"l16", {16, 256, 256, 4, 1, 8, 11, false}},
                                                   {"l8", {8, 256, 96, 4, 4, 8, 12, true}},
                                                   {"d64", {2, 64, 48, 2, 1, 8, 13, false}}};
  std::map<std::string, LlamaGguf> inputs;
  std::map<std::string, int> files_per_preset;
  int64_t tensors = 0, differing = 0;
  std::ifstream in(kDir + "preset_types.txt");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string preset, model;
    int with_imatrix = 0;
    fields >> preset >> model >> with_imatrix;
    std::vector<std::string> theirs;
    for (std::string type; fields >> type;) theirs.push_back(type);
    if (!inputs.count(model)) inputs.emplace(model, f32_input(shapes.at(model)));
    const GgufFile& file = inputs.at(model).file;
    const std::vector<uint32_t> types = requantized_types(file, parse_llama_file_type(preset), with_imatrix == 1);
    std::vector<std::string> ours;
    for (const size_t i : llama_loader_order(file)) {
      const std::string& name = file.tensors[i].name;
      if (name.ends_with("weight") && name.find("_norm.weight") == std::string::npos)
        ours.push_back(fakequant::ggml::display_name(*fakequant::ggml::find_type(static_cast<int>(types[i]))));
    }
    ASSERT_EQ(ours.size(), theirs.size()) << line;
    for (size_t j = 0; j < ours.size(); ++j) differing += ours[j] != theirs[j];
    EXPECT_EQ(ours, theirs) << preset << " " << model << " imatrix " << with_imatrix;
    tensors += static_cast<int64_t>(ours.size());
    ++files_per_preset[preset];
  }
  std::printf("preset_types.txt: %zu file types, %lld tensors, %lld with another type than llama-quantize's\n",
              files_per_preset.size(), static_cast<long long>(tensors), static_cast<long long>(differing));
  EXPECT_EQ(files_per_preset.size(), llama_file_types().size());  // every row of the table
  for (const auto& [preset, files] : files_per_preset)
    EXPECT_EQ(files, preset == "Q2_K_S" ? 4 : 6) << preset;  // Q2_K_S without imatrix: refused on l16, l8
  EXPECT_EQ(differing, 0);
}

}  // namespace
}  // namespace qforge::exporters::gguf
