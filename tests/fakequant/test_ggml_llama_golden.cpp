// Bit-exact agreement with llama.cpp's reference quantizers on a fixed row, plain and with an imatrix.
// The expected bytes (tests/golden/ggml_llama_reference_blocks.txt) came from ggml-quants.c's own
// functions compiled without FMA contraction; see fakequant/formats/ggml/block_common.h.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "fakequant/formats/ggml/block_types.h"
#include "tests/fakequant/ggml_golden_row.h"

namespace qforge::fakequant::ggml {
namespace {

std::map<std::string, std::string> load_golden(const std::string& file = "ggml_llama_reference_blocks.txt") {
  std::ifstream in(std::string(QFORGE_SOURCE_DIR) + "/tests/golden/" + file);
  std::map<std::string, std::string> golden;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string type, path, hex;
    fields >> type >> path >> hex;
    golden[type + " " + path] = hex;
  }
  return golden;
}

std::string to_hex(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) { s += digits[b >> 4]; s += digits[b & 15]; }
  return s;
}

TEST(GgmlLlamaGolden, QuantizersMatchLlamaCppReferenceBytes) {
  const auto golden = load_golden();
  ASSERT_EQ(golden.size(), 10u);
  const std::vector<float> x = testing::golden_row();
  const std::vector<float> imp = testing::golden_importance();
  const int64_t k = testing::kGoldenRowLength;
  for (const char* name : {"q8_0", "q5_0", "q4_K", "q6_K", "iq4_nl"}) {
    const BlockType& t = block_type(name);
    for (const bool with_imatrix : {false, true}) {
      std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes(t, k)));
      t.quantize_row(x.data(), bytes.data(), k, with_imatrix ? imp.data() : nullptr);
      const std::string key = std::string(name) + (with_imatrix ? " imatrix" : " plain");
      ASSERT_TRUE(golden.count(key)) << key;
      EXPECT_EQ(to_hex(bytes), golden.at(key)) << key;
    }
  }
}

// The IQ and ternary types against llama.cpp's own quantizers as llama-quantize links them
// (tests/golden/ggml_iq_reference_blocks.txt, made by ggml_iq_reference_blocks.c there): the paths without
// an imatrix that llama-quantize never takes for layer weights (IQ3_XXS, IQ2_S, IQ1_M), and the all-zero
// block of 32 in the row (IQ3_S then writes the later blocks' qs and signs one slot early).
TEST(GgmlLlamaGolden, IqQuantizersMatchLlamaCppBytes) {
  const auto golden = load_golden("ggml_iq_reference_blocks.txt");
  ASSERT_EQ(golden.size(), 17u);
  const std::vector<float> x = testing::golden_row();
  const std::vector<float> imp = testing::golden_importance();
  const int64_t k = testing::kGoldenRowLength;
  int compared = 0;
  for (const auto& [key, hex] : golden) {
    const std::string name = key.substr(0, key.find(' '));
    const bool with_imatrix = key.substr(key.find(' ') + 1) == "imatrix";
    const BlockType& t = block_type(name);
    std::vector<uint8_t> bytes(static_cast<size_t>(row_bytes(t, k)));
    t.quantize_row(x.data(), bytes.data(), k, with_imatrix ? imp.data() : nullptr);
    EXPECT_EQ(to_hex(bytes), hex) << key;
    ++compared;
  }
  EXPECT_EQ(compared, 17);
}

}  // namespace
}  // namespace qforge::fakequant::ggml
