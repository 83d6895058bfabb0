// exporters/hf/quant: pack -> unpack round trips exact to the bit for every layout, bit width and
// act-order g_idx; quantization_config -> options round trips; errors naming the tensor on weights a
// layout cannot store; the adapter from fakequant's converted weights. The bytes themselves are checked
// against an independent numpy implementation in test_hf_quant_reference.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>

#include "exporters/hf/quant/bit_packing.h"
#include "tests/exporters/hf_quant_test_util.h"

namespace hq = qforge::exporters::hf::quant;
using qforge::testing::by_name;
using qforge::testing::options_for;
using qforge::testing::random_weight;
using qforge::testing::RandomWeightSpec;
using ::testing::HasSubstr;

namespace {

void expect_bit_identical(const hq::GroupedIntWeight& a, const hq::GroupedIntWeight& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.in, b.in);
  EXPECT_EQ(a.bits, b.bits);
  EXPECT_EQ(a.group_size, b.group_size);
  EXPECT_EQ(a.codes, b.codes);
  EXPECT_EQ(a.zeros, b.zeros);
  EXPECT_EQ(a.g_idx, b.g_idx);
  ASSERT_EQ(a.scales.size(), b.scales.size());
  for (size_t i = 0; i < a.scales.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(a.scales[i]), std::bit_cast<uint32_t>(b.scales[i])) << "scale " << i;
  }
}

void expect_round_trip(const std::string& layout_name, const RandomWeightSpec& spec, hq::HfQuantOptions options) {
  SCOPED_TRACE(layout_name + " " + std::to_string(spec.bits) + "-bit" + (spec.act_order ? " act-order" : "") +
               (spec.symmetric ? " sym" : " asym"));
  const hq::HfQuantLayout& layout = hq::hf_quant_layout(layout_name);
  const hq::GroupedIntWeight w = random_weight(spec);
  const hq::FileTensors file = by_name(layout.pack(w, options));
  const hq::GroupedIntWeight back = layout.unpack(spec.name, file, options);
  expect_bit_identical(back, qforge::testing::with_filled_g_idx(w));
  // Packing the unpacked weight gives the same bytes again.
  const hq::FileTensors again = by_name(layout.pack(back, options));
  ASSERT_EQ(again.size(), file.size());
  for (const auto& [name, t] : file) EXPECT_EQ(again.at(name).data, t.data) << name;
}

TEST(HfQuantRoundTrip, GptqEveryBitsActOrderAndZeroPointForms) {
  uint32_t seed = 10;
  for (int bits : {2, 3, 4, 8}) {
    for (bool act_order : {false, true}) {
      RandomWeightSpec sym{.out = 32, .in = 96, .bits = bits, .act_order = act_order, .seed = seed++};
      expect_round_trip("gptq", sym, options_for(sym));
      RandomWeightSpec asym{.out = 32, .in = 96, .bits = bits, .symmetric = false, .min_zero = 1,
                            .act_order = act_order, .seed = seed++};
      expect_round_trip("gptq", asym, options_for(asym));
      // gptq_v2 stores zero point 0 as is.
      RandomWeightSpec v2 = asym;
      v2.min_zero = 0;
      hq::HfQuantOptions options = options_for(v2);
      options.gptq_v2 = true;
      expect_round_trip("gptq", v2, options);
    }
  }
}

TEST(HfQuantRoundTrip, AwqGroupsAndPerChannel) {
  for (int64_t group_size : {16, -1}) {
    RandomWeightSpec s{.out = 40, .in = 48, .group_size = group_size, .symmetric = false, .seed = 7};
    expect_round_trip("awq", s, options_for(s));
  }
}

TEST(HfQuantRoundTrip, CompressedTensorsEveryBitsActOrderAndScaleDtype) {
  uint32_t seed = 40;
  for (int bits : {2, 4, 8}) {
    for (bool act_order : {false, true}) {
      for (bool symmetric : {true, false}) {
        RandomWeightSpec s{.out = 32, .in = 48, .bits = bits, .group_size = 12, .symmetric = symmetric,
                           .act_order = act_order, .seed = seed++};
        hq::HfQuantOptions options = options_for(s);
        expect_round_trip("compressed-tensors", s, options);
        // BF16 scales: the round trip is exact for scales that are BF16 values.
        hq::GroupedIntWeight w = random_weight(s);
        for (float& scale : w.scales) scale = qforge::fakequant::round_to_bf16(scale);
        options.scale_dtype = hq::ScaleDtype::kBF16;
        const hq::HfQuantLayout& layout = hq::hf_quant_layout("compressed-tensors");
        expect_bit_identical(layout.unpack(s.name, by_name(layout.pack(w, options)), options),
                             qforge::testing::with_filled_g_idx(w));
      }
    }
  }
}

TEST(HfQuantRoundTrip, ScalesAreRoundedToTheFileDtypeOnce) {
  RandomWeightSpec s{.f16_exact_scales = false, .seed = 3};
  const hq::GroupedIntWeight w = random_weight(s);
  const hq::HfQuantLayout& gptq = hq::hf_quant_layout("gptq");
  const hq::GroupedIntWeight back = gptq.unpack(s.name, by_name(gptq.pack(w, options_for(s))), options_for(s));
  for (size_t i = 0; i < w.scales.size(); ++i) {
    ASSERT_EQ(back.scales[i], qforge::fakequant::round_to_fp16(w.scales[i])) << i;
  }
}

TEST(HfQuantRoundTrip, StreamPackingStraddlesWords) {
  // 3-bit values 0..7, 0..7, ...: value 10 occupies stream bits 30..32, i.e. bits 30-31 of word 0 and bit
  // 0 of word 1 (docs/hf-quantized.md §2).
  std::vector<int32_t> values(32);
  for (int k = 0; k < 32; ++k) values[k] = k % 8;
  std::vector<uint32_t> words(3);
  hq::pack_stream(values.data(), 1, 32, 3, words.data(), 1);
  EXPECT_EQ(words[0] >> 30, 2u & 3u);       // value 10 = 2: low two bits
  EXPECT_EQ(words[1] & 1u, (2u >> 2) & 1u);  // its high bit
  EXPECT_EQ((words[1] >> 1) & 7u, 3u);       // value 11
  std::vector<int32_t> back(32);
  hq::unpack_stream(words.data(), 1, 32, 3, back.data(), 1);
  EXPECT_EQ(back, values);
  // 4-bit GPTQ: 0x77777777 is the v1 symmetric zero word (z = 8 stored as 7).
  const std::vector<int32_t> sevens(8, 7);
  hq::pack_stream(sevens.data(), 1, 8, 4, words.data(), 1);
  EXPECT_EQ(words[0], 0x77777777u);
}

TEST(HfQuantConfig, OptionsReadBackFromEveryLayoutsConfig) {
  for (const hq::HfQuantLayout& layout : hq::hf_quant_layouts()) {
    for (int bits = 2; bits <= 8; ++bits) {
      if (!layout.supports_bits(bits)) continue;
      for (bool act_order : {false, true}) {
        if (act_order && (std::string(layout.name) == "awq" || std::string(layout.name) == "w8a8-int8")) continue;
        hq::HfQuantOptions o;
        o.bits = bits;
        o.group_size = act_order ? 64 : -1;
        o.symmetric = std::string(layout.name) != "awq" && !act_order;  // AWQ's config cannot say it
        o.act_order = act_order;
        o.gptq_v2 = std::string(layout.name) == "gptq" && act_order;
        if (std::string(layout.name) == "gptq") o.ignore.clear();  // GPTQ's config has no such key
        const hq::HfQuantOptions back = layout.options_from_config(layout.config(o));
        SCOPED_TRACE(std::string(layout.name) + " " + std::to_string(bits));
        EXPECT_EQ(back.bits, o.bits);
        EXPECT_EQ(back.group_size, o.group_size);
        EXPECT_EQ(back.symmetric, o.symmetric);
        EXPECT_EQ(back.act_order, o.act_order);
        EXPECT_EQ(back.gptq_v2, o.gptq_v2);
        EXPECT_EQ(back.ignore, o.ignore);
      }
    }
  }
}

TEST(HfQuantConfig, UnreadableConfigsNameTheKey) {
  const auto error_of = [](const std::string& layout, const std::string& json) {
    try {
      hq::hf_quant_layout(layout).options_from_config(json);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_THAT(error_of("gptq", R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "marlin"})"),
              HasSubstr("checkpoint_format"));
  EXPECT_THAT(error_of("gptq", R"({"quant_method": "gptq", "group_size": 128})"), HasSubstr("'bits' missing"));
  EXPECT_THAT(error_of("awq", R"({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"})"),
              HasSubstr("version"));
  EXPECT_THAT(error_of("compressed-tensors", R"({"quant_method": "compressed-tensors", "format": "float-quantized"})"),
              HasSubstr("format"));
  EXPECT_THAT(error_of("compressed-tensors", R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "config_groups": {"group_0": {"weights": {"num_bits": 3, "type": "int", "strategy": "channel"}}}})"),
              HasSubstr("3-bit"));
  EXPECT_THAT(error_of("nope", "{}"), HasSubstr("unknown layout 'nope' (known: gptq"));
}

}  // namespace
