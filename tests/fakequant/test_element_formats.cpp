// The element format table (fakequant/element_formats.h): every row's codec round-trips every valid
// code, its columns (max, min, KL levels, width) agree with those codes, the names parse and the help
// lists every row, and the templated kernel dispatch (kernels/fake_quant_elements.h) covers every row
// and rounds like value_grid.h's round_to_format.
#include <gtest/gtest.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fakequant/element_formats.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/kernels/fake_quant_elements.h"
#include "fakequant/quantizer_spec.h"
#include "fakequant/value_grid.h"

namespace qforge::testing {
namespace {

using namespace qforge::fakequant;

uint32_t bits_of(float v) { return std::bit_cast<uint32_t>(v); }

// Codes 0 .. 2^bits - 1 the row accepts.
std::vector<int32_t> valid_codes(const ElementFormatTraits& row) {
  std::vector<int32_t> codes;
  for (int32_t c = 0; c < (int32_t{1} << row.bits); ++c) {
    if (row.valid_code(c)) codes.push_back(c);
  }
  return codes;
}

TEST(ElementFormats, OneRowPerFormatInEnumOrder) {
  ASSERT_EQ(element_format_table().size(), static_cast<size_t>(kElementFormatCount));
  for (size_t i = 0; i < element_format_table().size(); ++i) {
    const ElementFormatTraits& row = element_format_table()[i];
    EXPECT_EQ(static_cast<size_t>(row.format), i) << row.name;
    EXPECT_EQ(&element_format_traits(row.format), &row) << row.name;
    EXPECT_EQ(find_element_format(row.name), &row) << row.name;
    EXPECT_EQ(element_format_from_name(row.name), row.format) << row.name;
    EXPECT_EQ(element_format_name(row.format), row.name);
    // Only the integer row leaves its codec to quant_math.h (codes depend on the zero point).
    EXPECT_EQ(row.encode == nullptr, row.is_integer()) << row.name;
    EXPECT_EQ(row.decode == nullptr, row.is_integer()) << row.name;
    EXPECT_EQ(row.round == nullptr, row.is_integer()) << row.name;
    EXPECT_EQ(row.valid_code == nullptr, row.is_integer()) << row.name;
  }
  EXPECT_EQ(find_element_format("int4"), nullptr);
  EXPECT_THROW(element_format_traits(static_cast<ElementFormat>(kElementFormatCount)), std::invalid_argument);
}

TEST(ElementFormats, EveryValidCodeRoundTrips) {
  for (const ElementFormatTraits& row : element_format_table()) {
    if (row.is_integer()) continue;
    const std::vector<int32_t> codes = valid_codes(row);
    ASSERT_FALSE(codes.empty()) << row.name;
    for (int32_t c : codes) {
      const float v = row.decode(c);
      ASSERT_TRUE(std::isfinite(v)) << row.name << " code " << c;
      ASSERT_EQ(row.encode(v), c) << row.name << " code " << c << " value " << v;
      // round is decode(encode(v)), on the grid point and on its neighbours.
      for (float x : {v, std::nextafter(v, 1e38f), std::nextafter(v, -1e38f)}) {
        ASSERT_EQ(bits_of(row.round(x)), bits_of(row.decode(row.encode(x)))) << row.name << " " << x;
      }
    }
    EXPECT_FALSE(row.valid_code(-1)) << row.name;
    EXPECT_FALSE(row.valid_code(int32_t{1} << row.bits)) << row.name;
    // The width is tight: some valid code uses the top bit (the sign).
    EXPECT_GE(codes.back(), int32_t{1} << (row.bits - 1)) << row.name;
    // Saturation: ±inf and huge values encode to the largest finite code, never an invalid one.
    for (float big : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                      -std::numeric_limits<float>::infinity()}) {
      EXPECT_TRUE(row.valid_code(row.encode(big))) << row.name << " " << big;
      EXPECT_EQ(std::fabs(row.decode(row.encode(big))), row.max_magnitude) << row.name << " " << big;
    }
  }
}

TEST(ElementFormats, ColumnsAgreeWithTheCodes) {
  for (const ElementFormatTraits& row : element_format_table()) {
    if (row.is_integer()) continue;
    float max = 0.0f, min = std::numeric_limits<float>::infinity();
    int64_t non_negative = 0;
    for (int32_t c : valid_codes(row)) {
      const float v = std::fabs(row.decode(c));
      max = std::max(max, v);
      if (v > 0.0f) min = std::min(min, v);
      non_negative += !std::signbit(row.decode(c));
    }
    EXPECT_EQ(bits_of(row.max_magnitude), bits_of(max)) << row.name;
    EXPECT_EQ(bits_of(row.min_magnitude), bits_of(min)) << row.name;
    // KL merges bins into the format's non-negative values; the unscaled formats are never clipped.
    EXPECT_EQ(row.kl_levels, row.scaled ? non_negative : 0) << row.name;
  }
  const ElementFormatTraits& ints = element_format_traits(ElementFormat::kInt);
  EXPECT_TRUE(ints.scaled);
  EXPECT_EQ(ints.min_magnitude, 1.0f);
}

TEST(ElementFormats, SpecHelpersReadTheTable) {
  for (const ElementFormatTraits& row : element_format_table()) {
    QuantizerSpec spec;
    spec.format = row.format;
    spec.bits = 4;
    EXPECT_EQ(element_bits(spec), row.is_integer() ? 4 : row.bits) << row.name;
    EXPECT_EQ(format_max_magnitude(spec), row.is_integer() ? 7.0f : (row.scaled ? row.max_magnitude : 1.0f)) << row.name;
    if (!row.is_integer()) {
      EXPECT_EQ(grid_bounds(spec, 0).high, row.max_magnitude) << row.name;
    }
  }
}

TEST(ElementFormats, NamesAndHelpComeFromTheTables) {
  EXPECT_EQ(element_format_names(), "int, fp8_e4m3, fp8_e5m2, fp4_e2m1, nf4, fp16, bf16, ternary");
  EXPECT_EQ(scheme_format_names(), "int2..int8, fp8_e4m3, fp8_e5m2, fp4_e2m1, nf4, fp16, bf16, ternary");
  const std::string help = scheme_help();
  EXPECT_NE(help.find(scheme_format_names()), std::string::npos) << help;
  for (int bits = kIntMinBits; bits <= kIntMaxBits; ++bits) {
    EXPECT_EQ(parse_scheme("int" + std::to_string(bits)).bits, bits);
  }
  for (const ElementFormatTraits& row : element_format_table()) {
    EXPECT_NE(help.find(row.name), std::string::npos) << row.name;
    if (!row.is_integer()) {
      EXPECT_EQ(parse_scheme(row.name).format, row.format) << row.name;
    }
  }
  // Every quantized ggml type with a codec that needs no imatrix is a scheme, listed by the help, and
  // nothing else is (IQ2_XXS, IQ2_XS, IQ1_S: llama.cpp's encoders require importance, fake quantization has
  // none).
  size_t block_schemes = 0;
  for (const ggml::BlockType& type : ggml::all_types()) {
    std::string scheme = type.name;
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (type.has_codec() && type.is_quantized() && !type.needs_importance) {
      ++block_schemes;
      EXPECT_EQ(parse_scheme(scheme).ggml_type, type.ggml_type_id) << scheme;
      EXPECT_NE(gguf_block_scheme_names().find(scheme), std::string::npos) << scheme;
    } else if (!find_element_format(scheme)) {
      EXPECT_THROW(parse_scheme(scheme), std::invalid_argument) << scheme;
    }
  }
  EXPECT_EQ(gguf_block_scheme_names(),
            "q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, iq3_xxs, iq4_nl, iq3_s, iq2_s, iq4_xs, iq1_m, "
            "tq1_0, tq2_0");
  EXPECT_EQ(block_schemes, 18u);
  EXPECT_NE(help.find(gguf_block_scheme_names()), std::string::npos) << help;
}

// Values around every grid point: the points, their float neighbours, midpoints, random values over
// many binades, values beyond the maximum and ±inf.
std::vector<float> samples(const ElementFormatTraits& row) {
  std::vector<float> values = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  if (!row.is_integer()) {
    const std::vector<int32_t> codes = valid_codes(row);
    const size_t stride = codes.size() > 4096 ? codes.size() / 4096 : 1;  // fp16 / bf16: a subset
    for (size_t i = 0; i < codes.size(); i += stride) {
      const float v = row.decode(codes[i]);
      values.insert(values.end(), {v, std::nextafter(v, 1e38f), std::nextafter(v, -1e38f)});
      if (i + 1 < codes.size()) values.push_back((v + row.decode(codes[i + 1])) / 2.0f);
    }
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-20.0f, 20.0f);
  for (int i = 0; i < 2000; ++i) values.push_back((i % 2 ? -1.0f : 1.0f) * std::exp2(exponent(rng)));
  return values;
}

TEST(ElementFormats, KernelDispatchCoversEveryRowAndRoundsLikeTheTable) {
  for (const ElementFormatTraits& row : element_format_table()) {
    QuantizerSpec spec;
    spec.format = row.format;
    const float scale = row.scaled ? 0.25f : 1.0f;
    const GridBounds bounds = grid_bounds(spec, 0);
    const size_t mismatches = kernels::with_element(spec, [&](const auto& element) {
      size_t bad = 0;
      for (float x : samples(row)) {
        bool inside = false;
        const float fast = element.forward(x, scale, 1.0f / scale, bounds.low, bounds.high, inside);
        const float reference = fake_quantize_value(x, scale, 0, spec);
        bad += bits_of(fast) != bits_of(reference);
      }
      return bad;
    });
    EXPECT_EQ(mismatches, 0u) << row.name;
  }
}

}  // namespace
}  // namespace qforge::testing
