// The ggml type table (fakequant/formats/ggml/block_types.h): one row per ggml type qforge knows, with
// or without a codec; lookups by id and by name in either case; the codec subset behind block_type();
// error messages that list the names from the table.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "fakequant/formats/ggml/block_types.h"
#include "tests/support/error_of.h"

namespace qforge::fakequant::ggml {
namespace {

using ::testing::HasSubstr;

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

TEST(GgmlTypeTable, LookupsFindEveryRow) {
  ASSERT_EQ(all_types().size(), 29u);
  for (const BlockType& t : all_types()) {
    EXPECT_EQ(find_type(t.ggml_type_id), &t) << t.name;
    EXPECT_EQ(find_type(t.name), &t) << t.name;
    EXPECT_EQ(find_type(upper(t.name)), &t) << t.name;
    EXPECT_EQ(display_name(t), upper(t.name));
    if (t.has_codec()) { EXPECT_TRUE(t.has_decoder()) << t.name; }  // no encode-only rows
    EXPECT_GT(t.block_elements, 0) << t.name;
    EXPECT_GT(t.block_bytes, 0) << t.name;
  }
  EXPECT_EQ(find_type(4), nullptr);  // Q4_2, removed upstream
  EXPECT_EQ(find_type("q4_2"), nullptr);
  EXPECT_EQ(display_name(*find_type(kGgmlIQ4_NL)), "IQ4_NL");
  EXPECT_STREQ(find_type("Q4_K")->name, "q4_K");
}

TEST(GgmlTypeTable, CodecRowsAreTheBlockTypes) {
  size_t with_codec = 0;
  for (const BlockType& t : all_types()) {
    if (!t.has_codec()) {
      EXPECT_THROW(block_type(t.ggml_type_id), std::invalid_argument) << t.name;
      EXPECT_THROW(block_type(t.name), std::invalid_argument) << t.name;
      continue;
    }
    ASSERT_LT(with_codec, all_block_types().size());
    EXPECT_STREQ(all_block_types()[with_codec].name, t.name);
    EXPECT_EQ(block_type(t.ggml_type_id).ggml_type_id, t.ggml_type_id);
    ++with_codec;
  }
  EXPECT_EQ(with_codec, all_block_types().size());
  EXPECT_EQ(codec_type_names(),
            "f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq2_xxs, iq2_xs, iq3_xxs, iq1_s, "
            "iq4_nl, iq3_s, iq2_s, iq4_xs, iq1_m, bf16, tq1_0, tq2_0");
  // Every quantized weight type llama.cpp writes has a codec; the decoders are the same rows.
  EXPECT_EQ(decoder_type_names(),
            "f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K, iq2_xxs, iq2_xs, iq3_xxs, iq1_s, "
            "iq4_nl, iq3_s, iq2_s, iq4_xs, iq1_m, bf16, tq1_0, tq2_0");
  EXPECT_EQ(&decoder_type(kGgmlIQ2_XXS), find_type("IQ2_XXS"));
  EXPECT_THAT(testing::error_of([] { decoder_type(kGgmlF64); }),
              HasSubstr("no decoder for ggml type f64 (id 28) (qforge decodes f32, f16,"));
  // IQ2_XXS, IQ2_XS and IQ1_S encode only with an importance matrix, as llama.cpp
  // (ggml_quantize_requires_imatrix); the other grid types also without.
  for (const BlockType& t : all_types()) {
    const std::string n = t.name;
    EXPECT_EQ(t.needs_importance, n == "iq2_xxs" || n == "iq2_xs" || n == "iq1_s") << n;
  }
  std::vector<float> row(256, 1.f);
  EXPECT_THAT(testing::error_of([&] { fake_quantize_row(block_type("iq2_xxs"), row.data(), row.data(), 256); }),
              HasSubstr("IQ2_XXS needs an importance matrix"));
  // Sizing, for rows with and without a codec.
  EXPECT_EQ(row_bytes(*find_type(kGgmlQ3_K), 512), 2 * 110);
  EXPECT_EQ(row_bytes(*find_type(kGgmlI16), 3), 6);
}

TEST(GgmlTypeTable, ErrorsListTheCodecTypes) {
  EXPECT_THAT(testing::error_of([] { block_type("i8"); }),
              HasSubstr("no codec for type 'i8' (expected one of: f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, "
                        "q4_K, q5_K, q6_K, iq2_xxs, iq2_xs, iq3_xxs, iq1_s, iq4_nl, iq3_s, iq2_s, iq4_xs, iq1_m, bf16, tq1_0, "
                        "tq2_0)"));
  EXPECT_THAT(testing::error_of([] { block_type("q9_9"); }),
              HasSubstr("unknown type name 'q9_9' (expected one of: f32, f16,"));
  EXPECT_THAT(testing::error_of([] { block_type(24); }), HasSubstr("no codec for ggml type i8 (id 24)"));
  EXPECT_THAT(testing::error_of([] { block_type(99); }),
              HasSubstr("unsupported ggml type id 99 (expected one of: 0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, "
                        "20, 21, 22, 23, 29, 30, 34, 35, i.e. f32,"));
  const BlockType& i8 = *find_type(kGgmlI8);
  std::vector<float> row(256);
  EXPECT_THAT(testing::error_of([&] { fake_quantize_row(i8, row.data(), row.data(), 256); }),
              HasSubstr("no codec for i8"));
}

}  // namespace
}  // namespace qforge::fakequant::ggml
