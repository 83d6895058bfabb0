// The IQ and ternary types of files written by llama.cpp's own llama-quantize (tests/golden/llama_quantize,
// make.sh there): qforge decodes every tensor bit for bit as llama.cpp's dequantize_row_<type> does
// (hashes in dequant_fnv.txt), and encodes every one of them (IQ4_XS, TQ1_0, TQ2_0, IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) to the same blocks from the same F32 rows and importance matrix.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "exporters/gguf/llama_gguf_import.h"
#include "tests/exporters/llama_quantize_golden.h"

namespace qforge::exporters::gguf {
namespace {

using namespace golden;

constexpr TinyShape kK256{1, 256, 32, 4, 1, 8, 7, true};

// Every tensor of every codec type of the file encodes to llama.cpp's blocks (the IQ4_NL ffn_down
// fallback, the Q4_K/Q5_K/Q6_K tensors of the mix and the new type), on each path present.
void expect_all_identical(const TypeAgreement& a) {
  for (const auto& [key, count] : a) {
    EXPECT_EQ(count.differing, 0) << key.first << (key.second ? " with" : " without") << " imatrix";
  }
}

TEST(LlamaQuantizeGoldenIQ, IQ4_XSBytesWithAndWithoutImatrix) {
  const TypeAgreement a = compare_by_type("k256_IQ4_XS_imatrix.gguf", kK256, "imatrix_k256.dat");
  expect_identical(a, "iq4_xs", 64);  // attn_q, ffn_gate with importance; attn_k, attn_output, ffn_up without
  expect_all_identical(a);
  EXPECT_EQ(decode_matches("k256_IQ4_XS_imatrix.gguf").at("iq4_xs"), 5);
}

TEST(LlamaQuantizeGoldenIQ, TernaryBytes) {
  for (const auto& [file, type] : {std::pair{"k256_TQ1_0.gguf", "tq1_0"}, std::pair{"k256_TQ2_0.gguf", "tq2_0"}}) {
    // Quantized without an imatrix (llama.cpp's quantize_tq*_0 ignore one; so do qforge's).
    const TypeAgreement a = compare_by_type(file, kK256, "");
    EXPECT_GE(a.at({type, false}).blocks, 300) << file;
    expect_all_identical(a);  // and the Q4_0 ffn_down, Q6_K token_embd
    EXPECT_EQ(decode_matches(file).at(type), 6) << file;  // the six layer weights but ffn_down (rows of 32)
  }
}

// IQ2_XXS with llama.cpp's grid neighbour search (iq_grid_search.h): llama-quantize requires an imatrix
// for it, so only the importance path exists. 640 blocks of the IQ2_XXS preset's five tensors, and the
// attn_output of the IQ1_S and IQ1_M presets (256 each).
TEST(LlamaQuantizeGoldenIQ, IQ2_XXSBytesWithImatrix) {
  int64_t blocks = 0;
  for (const char* file : {"k256_IQ2_XXS_imatrix_full.gguf", "k256_IQ1_S_imatrix_full.gguf", "k256_IQ1_M_imatrix_full.gguf"}) {
    const TypeAgreement a = compare_by_type(file, kK256, "imatrix_k256_full.dat");
    const auto& count = a.at({"iq2_xxs", true});
    EXPECT_EQ(count.differing, 0) << file;
    blocks += count.blocks;
  }
  EXPECT_EQ(blocks, 640 + 256 + 256);
}

// IQ2_XS (imatrix only, as llama-quantize), IQ3_XXS (with an imatrix: llama-quantize asks for one for layer
// weights) and IQ3_S (both paths) through iq_search_scale and the neighbour lists.
TEST(LlamaQuantizeGoldenIQ, IQ2_XS_IQ3_XXS_IQ3_SBytes) {
  const TypeAgreement xs = compare_by_type("k256_IQ2_XS_imatrix_full.gguf", kK256, "imatrix_k256_full.dat");
  EXPECT_EQ(xs.at({"iq2_xs", true}).blocks, 640);
  EXPECT_EQ(xs.at({"iq2_xs", true}).differing, 0);
  const TypeAgreement xxs = compare_by_type("k256_IQ3_XXS_imatrix_full.gguf", kK256, "imatrix_k256_full.dat");
  EXPECT_EQ(xxs.at({"iq3_xxs", true}).blocks, 64);  // ffn_gate, ffn_up: 32 rows each
  EXPECT_EQ(xxs.at({"iq3_xxs", true}).differing, 0);
  EXPECT_EQ(xxs.at({"iq3_s", true}).differing, 0);  // attn_output, 256 blocks
  const TypeAgreement s = compare_by_type("k256_IQ3_S_imatrix.gguf", kK256, "imatrix_k256.dat");
  expect_identical(s, "iq3_s", 256);  // 352 blocks without, 288 with importance
}

// IQ2_S (the IQ3_XXS and IQ2_M presets), IQ1_S and IQ1_M (the exact three-level split with shifts, then
// the IQ1 neighbour search), with an imatrix as llama-quantize requires for layer weights. Their paths without
// one (IQ2_S, IQ1_M) are checked against llama.cpp's own functions in fakequant.test_ggml_llama_golden.
TEST(LlamaQuantizeGoldenIQ, IQ2_S_IQ1_S_IQ1_MBytesWithImatrix) {
  struct Expect { const char* file; const char* type; int64_t blocks; };
  for (const Expect& e : {Expect{"k256_IQ3_XXS_imatrix_full.gguf", "iq2_s", 320},
                          Expect{"k256_IQ2_M_imatrix_full.gguf", "iq2_s", 384},
                          Expect{"k256_IQ1_S_imatrix_full.gguf", "iq1_s", 384},
                          Expect{"k256_IQ1_M_imatrix_full.gguf", "iq1_m", 384}}) {
    const TypeAgreement a = compare_by_type(e.file, kK256, "imatrix_k256_full.dat");
    EXPECT_EQ(a.at({e.type, true}).blocks, e.blocks) << e.file;
    EXPECT_EQ(a.at({e.type, true}).differing, 0) << e.file << " " << e.type;
  }
}

// The paths without an imatrix of IQ3_XXS, IQ2_S and IQ1_M as llama-quantize takes them: only the exempt
// token_embd (267 rows of 256) may use them without one (make.sh: preset Q4_0 with --token-embedding-type);
// qforge's encoding of the same rows hashes as llama-quantize's tensor (no_imatrix_fnv.txt).
TEST(LlamaQuantizeGoldenIQ, TokenEmbeddingWithoutImatrixAsLlamaQuantize) {
  const LlamaGguf input = f32_input(kK256);
  size_t at = 0;
  while (input.file.tensors[at].name != "token_embd.weight") ++at;
  const int64_t k = 256, rows = 267;
  ASSERT_EQ(input.tensor_bytes[at].size(), static_cast<size_t>(k * rows * 4));
  const float* x = reinterpret_cast<const float*>(input.tensor_bytes[at].data());
  std::ifstream in(kDir + "no_imatrix_fnv.txt");
  int checked = 0;
  std::string type, tensor, hash;
  size_t bytes = 0;
  while (in >> type >> tensor >> bytes >> hash) {
    const auto& codec = fakequant::ggml::block_type(type);
    ASSERT_EQ(bytes, static_cast<size_t>(rows * fakequant::ggml::row_bytes(codec, k))) << type;
    std::vector<std::byte> ours(bytes);
    for (int64_t r = 0; r < rows; ++r) {
      codec.quantize_row(x + r * k, ours.data() + r * fakequant::ggml::row_bytes(codec, k), k, nullptr);
    }
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(fnv1a(ours.data(), ours.size())));
    EXPECT_EQ(hex, hash) << type << " token_embd without imatrix";
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

// Every IQ/TQ golden file loads as a llama model through the GGUF importer (which decodes each tensor with
// the table's decoders), with llama.cpp's dequantized weights.
TEST(LlamaQuantizeGoldenIQ, FilesLoadAsLlamaModels) {
  for (const char* file : {"k256_IQ4_XS_imatrix.gguf", "k256_IQ3_S_imatrix.gguf", "k256_TQ1_0.gguf", "k256_TQ2_0.gguf",
                           "k256_IQ3_XXS_imatrix_full.gguf", "k256_IQ2_XXS_imatrix_full.gguf",
                           "k256_IQ2_XS_imatrix_full.gguf", "k256_IQ2_M_imatrix_full.gguf",
                           "k256_IQ1_S_imatrix_full.gguf", "k256_IQ1_M_imatrix_full.gguf"}) {
    const ImportedLlama m = read_llama_gguf(std::filesystem::path(kDir + file));
    EXPECT_EQ(m.model->config().hidden_size, 256) << file;
    EXPECT_TRUE(m.model->config().tie_word_embeddings) << file;
    EXPECT_EQ(m.tokens.size(), 8u + 259u) << file;
  }
}

// Decoding of the grid types: the tensors of each type in the file, all bit-identical to llama.cpp.
TEST(LlamaQuantizeGoldenIQ, GridTypesDecodeBitExact) {
  struct Expect { const char* file; const char* type; int tensors; };
  const Expect expected[] = {
      {"k256_IQ3_XXS_imatrix_full.gguf", "iq3_xxs", 2}, {"k256_IQ3_XXS_imatrix_full.gguf", "iq2_s", 2},
      {"k256_IQ3_XXS_imatrix_full.gguf", "iq3_s", 1},   {"k256_IQ3_S_imatrix.gguf", "iq3_s", 5},
      {"k256_IQ2_XXS_imatrix_full.gguf", "iq2_xxs", 5}, {"k256_IQ2_XS_imatrix_full.gguf", "iq2_xs", 5},
      {"k256_IQ2_M_imatrix_full.gguf", "iq2_s", 4},     {"k256_IQ2_M_imatrix_full.gguf", "iq3_s", 1},
      {"k256_IQ1_S_imatrix_full.gguf", "iq1_s", 4},     {"k256_IQ1_S_imatrix_full.gguf", "iq2_xxs", 1},
      {"k256_IQ1_M_imatrix_full.gguf", "iq1_m", 4},     {"k256_IQ1_M_imatrix_full.gguf", "iq2_xxs", 1},
  };
  for (const Expect& e : expected) {
    const auto decoded = decode_matches(e.file);
    ASSERT_TRUE(decoded.count(e.type)) << e.file << ": no " << e.type << " tensor decoded";
    EXPECT_EQ(decoded.at(e.type), e.tensors) << e.file << " " << e.type;
  }
}

// Every tensor of the grid-type files, of every type (the grid types, the IQ4_NL fallbacks, Q4_K/Q5_K/Q6_K
// of the mixes), has llama.cpp's bytes with the full imatrix.
TEST(LlamaQuantizeGoldenIQ, MixTensorsOfGridFilesIdentical) {
  for (const char* file : {"k256_IQ3_XXS_imatrix_full.gguf", "k256_IQ2_XXS_imatrix_full.gguf",
                           "k256_IQ2_XS_imatrix_full.gguf", "k256_IQ2_M_imatrix_full.gguf",
                           "k256_IQ1_S_imatrix_full.gguf", "k256_IQ1_M_imatrix_full.gguf"}) {
    const TypeAgreement a = compare_by_type(file, kK256, "imatrix_k256_full.dat");
    EXPECT_TRUE(a.count({"iq4_nl", true})) << file;  // ffn_down, with importance
    expect_all_identical(a);
  }
  const TypeAgreement s = compare_by_type("k256_IQ3_S_imatrix.gguf", kK256, "imatrix_k256.dat");
  expect_all_identical(s);
}

}  // namespace
}  // namespace qforge::exporters::gguf
