// QuantizerSpec (fakequant/quantizer_spec.h): scheme strings (valid ones and the error messages),
// bits_per_element, validate(), and the name tables.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fakequant/quantizer_spec.h"
#include "tests/support/error_of.h"

namespace qforge::testing {
namespace {

using namespace qforge::fakequant;
using ::testing::HasSubstr;

TEST(QuantizerSpec, ParsesSchemes) {
  const QuantizerSpec defaults = parse_scheme("int4");
  EXPECT_EQ(defaults.format, ElementFormat::kInt);
  EXPECT_EQ(defaults.bits, 4);
  EXPECT_TRUE(defaults.symmetric);
  EXPECT_EQ(defaults.granularity.kind, Granularity::kPerChannel);
  EXPECT_EQ(defaults.granularity.axis, 0);
  EXPECT_EQ(defaults.scale_dtype, ScaleDtype::kFp32);
  EXPECT_FALSE(defaults.block_scales.enabled());
  EXPECT_EQ(defaults.estimator, Estimator::kSte);
  EXPECT_EQ(defaults.observer.kind, ObserverKind::kMinMax);

  const QuantizerSpec grouped = parse_scheme("int4:g32:asym");
  EXPECT_FALSE(grouped.symmetric);
  EXPECT_EQ(grouped.granularity.kind, Granularity::kPerGroup);
  EXPECT_EQ(grouped.granularity.group_size, 32);

  const QuantizerSpec token = parse_scheme("int8:token");
  EXPECT_EQ(token.bits, 8);
  EXPECT_TRUE(token.dynamic_per_token);

  const QuantizerSpec nf4 = parse_scheme("nf4:g64:dq8");
  EXPECT_EQ(nf4.format, ElementFormat::kNf4);
  EXPECT_EQ(nf4.granularity.group_size, 64);
  EXPECT_EQ(nf4.block_scales.scale_bits, 8);
  EXPECT_EQ(nf4.block_scales.groups_per_super_block, 8);
  EXPECT_EQ(nf4.block_scales.super_scale_dtype, ScaleDtype::kFp16);

  const QuantizerSpec fp8 = parse_scheme("fp8_e4m3:tensor:scale_bf16:lsq:mse");
  EXPECT_EQ(fp8.format, ElementFormat::kFp8E4M3);
  EXPECT_EQ(fp8.granularity.kind, Granularity::kPerTensor);
  EXPECT_EQ(fp8.scale_dtype, ScaleDtype::kBf16);
  EXPECT_EQ(fp8.estimator, Estimator::kLsq);
  EXPECT_EQ(fp8.observer.kind, ObserverKind::kMse);

  const QuantizerSpec channel = parse_scheme("int8:channel1:clipped_ste:ema:scale_fp16");
  EXPECT_EQ(channel.granularity.axis, 1);
  EXPECT_EQ(channel.estimator, Estimator::kClippedSte);
  EXPECT_EQ(channel.observer.kind, ObserverKind::kMovingAverageMinMax);
  EXPECT_EQ(channel.scale_dtype, ScaleDtype::kFp16);

  EXPECT_EQ(parse_scheme("int4:asym:tensor:lsq_plus:kl").estimator, Estimator::kLsqPlus);
  EXPECT_EQ(parse_scheme("int8:tensor:pact:percentile").estimator, Estimator::kPact);
  EXPECT_EQ(parse_scheme("bf16").format, ElementFormat::kBf16);
  EXPECT_EQ(parse_scheme("int4:g32:dq6:scale_fp16").describe(), "int4 sym g32 fp16-scales dq6 ste minmax");
}

TEST(QuantizerSpec, SchemeErrors) {
  auto error = [](const std::string& scheme) { return error_of([&] { parse_scheme(scheme); }); };
  EXPECT_THAT(error(""), HasSubstr("scheme '': empty format (expected e.g. int4, nf4)"));
  EXPECT_THAT(error("int"), HasSubstr("scheme 'int': say int<bits>, e.g. int4"));
  EXPECT_THAT(error("int16"), HasSubstr("scheme 'int16': integer formats need 2..8 bits, got 16"));
  EXPECT_THAT(error("int4x"), HasSubstr("scheme 'int4x': cannot read a number in 'int4x'"));
  // Used to escape as std::out_of_range from std::stoi.
  EXPECT_THAT(error("int99999999999"), HasSubstr("cannot read a number in 'int99999999999'"));
  EXPECT_THAT(error("fp9"), HasSubstr("unknown element format 'fp9' (accepted: int, fp8_e4m3, fp8_e5m2, fp4_e2m1, nf4, fp16, bf16, ternary)"));
  EXPECT_THAT(error("int4:foo"), HasSubstr("scheme 'int4:foo': unknown token 'foo' (expected sym, asym"));
  EXPECT_THAT(error("int4:gx"), HasSubstr("unknown token 'gx'"));
  EXPECT_THAT(error("int4:g32x"), HasSubstr("cannot read a number in 'g32x'"));
  EXPECT_THAT(error("int4:g0"), HasSubstr("group size must be positive"));
  EXPECT_THAT(error("int4:channelx"), HasSubstr("cannot read a number in 'channelx'"));
  EXPECT_THAT(error("int4:scale_fp64"), HasSubstr("scheme 'int4:scale_fp64': unknown scale dtype 'fp64' (accepted: fp32, fp16, bf16)"));
  // Empty tokens used to be dropped silently.
  EXPECT_THAT(error("int4:"), HasSubstr("scheme 'int4:': unknown token ''"));
  EXPECT_THAT(error("int4::g32"), HasSubstr("unknown token ''"));
  EXPECT_THAT(error("int4:dq6"), HasSubstr("two-level scales need per-group scales"));
  EXPECT_THAT(error("int4:g32:dq9"), HasSubstr("two-level scales need 1..8 scale bits"));
  EXPECT_THAT(error("int8:g32:dq6:token"), HasSubstr("two-level scales need per-group scales"));
  EXPECT_THAT(error("fp8_e4m3:asym"), HasSubstr("zero points (asym) need an integer format"));
  EXPECT_THAT(error("int4:lsq_plus"), HasSubstr("LSQ+ needs an asymmetric integer format"));
  EXPECT_THAT(error("fp16:lsq"), HasSubstr("learnable scales need a scaled format"));
  EXPECT_THAT(error("int4:g32:pact"), HasSubstr("PACT learns one clipping level"));
  EXPECT_THAT(error("int8:token:lsq"), HasSubstr("dynamic per-token scales are recomputed every step"));
}

TEST(QuantizerSpec, BitsPerElement) {
  EXPECT_DOUBLE_EQ(parse_scheme("int4:g32:scale_fp16").bits_per_element(), 4.5);
  EXPECT_DOUBLE_EQ(parse_scheme("int4:g32").bits_per_element(), 5.0);              // fp32 scales
  EXPECT_DOUBLE_EQ(parse_scheme("int4:g32:asym:scale_fp16").bits_per_element(), 4.625);  // + 4-bit zero point
  EXPECT_DOUBLE_EQ(parse_scheme("int8:g128:scale_bf16").bits_per_element(), 8.125);
  EXPECT_DOUBLE_EQ(parse_scheme("nf4:g64").bits_per_element(), 4.5);               // QLoRA without DQ
  // QLoRA-like double quantization: 8-bit codes + fp16 super scale per 8 groups: 4 + (8 + 2) / 64.
  EXPECT_DOUBLE_EQ(parse_scheme("nf4:g64:dq8").bits_per_element(), 4.15625);
  EXPECT_DOUBLE_EQ(parse_scheme("int4:g32:dq6").bits_per_element(), 4.25);         // 4 + (6 + 2) / 32
  EXPECT_DOUBLE_EQ(parse_scheme("int4:g32:dq6:asym").bits_per_element(), 4.375);   // + 4-bit zero point
  EXPECT_DOUBLE_EQ(parse_scheme("fp8_e4m3:g32:scale_bf16").bits_per_element(), 8.5);
  // Ternary: log2(3) bits of information in 2-bit codes, + an fp16 scale per 32.
  EXPECT_DOUBLE_EQ(parse_scheme("ternary:g32:scale_fp16").bits_per_element(), std::log2(3.0) + 0.5);
  EXPECT_DOUBLE_EQ(parse_scheme("fp4_e2m1:g32:scale_fp16").bits_per_element(), 4.5);
  EXPECT_DOUBLE_EQ(parse_scheme("int8").bits_per_element(), 8.0);                  // per channel: not counted
  EXPECT_DOUBLE_EQ(parse_scheme("int8:token").bits_per_element(), 8.0);
  EXPECT_DOUBLE_EQ(parse_scheme("fp16").bits_per_element(), 16.0);
  EXPECT_DOUBLE_EQ(parse_scheme("bf16:g32").bits_per_element(), 16.0);             // no scales at all
}

TEST(QuantizerSpec, Validate) {
  EXPECT_NO_THROW(validate(QuantizerSpec{}, "default"));
  auto error = [](QuantizerSpec spec) { return error_of([&] { validate(spec, "layer.weight"); }); };
  QuantizerSpec spec;
  spec.bits = 1;
  EXPECT_THAT(error(spec), HasSubstr("layer.weight: integer formats need 2..8 bits, got 1 (int1 sym"));
  spec = {};
  spec.format = ElementFormat::kNf4;
  spec.bits = 1;  // ignored by float formats
  EXPECT_NO_THROW(validate(spec, "nf4"));
  spec = {};
  spec.granularity = GranularitySpec::per_channel(-1);
  EXPECT_THAT(error(spec), HasSubstr("per-channel axis must be >= 0, got -1"));
  spec = {};
  spec.granularity = GranularitySpec::per_group(32);
  spec.block_scales.scale_bits = 6;
  EXPECT_NO_THROW(validate(spec, "dq"));
  spec.block_scales.groups_per_super_block = 0;
  EXPECT_THAT(error(spec), HasSubstr("positive super-block size"));
  spec.block_scales = {};
  spec.block_scales.scale_bits = -1;
  EXPECT_THAT(error(spec), HasSubstr("two-level scale bits must be >= 0"));
  spec = {};
  spec.observer.percentile = 0.0;
  EXPECT_THAT(error(spec), HasSubstr("percentile must be in (0, 100]"));
  spec = {};
  spec.observer.averaging_constant = 1.5f;
  EXPECT_THAT(error(spec), HasSubstr("averaging constant must be in (0, 1]"));
  spec = {};
  spec.format = ElementFormat::kFp4E2M1;
  spec.symmetric = false;  // ignored for float formats (quantizer_spec.h); only scheme strings reject "asym"
  EXPECT_NO_THROW(validate(spec, "test"));
}

TEST(QuantizerSpec, NamesRoundTrip) {
  for (ElementFormat f : {ElementFormat::kInt, ElementFormat::kFp8E4M3, ElementFormat::kFp8E5M2,
                          ElementFormat::kFp4E2M1, ElementFormat::kNf4, ElementFormat::kFp16, ElementFormat::kBf16}) {
    EXPECT_EQ(element_format_from_name(element_format_name(f)), f);
  }
  for (ScaleDtype d : {ScaleDtype::kFp32, ScaleDtype::kFp16, ScaleDtype::kBf16}) {
    EXPECT_EQ(scale_dtype_from_name(scale_dtype_name(d)), d);
  }
  for (Estimator e : {Estimator::kSte, Estimator::kClippedSte, Estimator::kLsq, Estimator::kLsqPlus, Estimator::kPact}) {
    EXPECT_EQ(estimator_from_name(estimator_name(e)), e);
  }
  for (ObserverKind o : {ObserverKind::kMinMax, ObserverKind::kMovingAverageMinMax, ObserverKind::kPercentile,
                         ObserverKind::kMse, ObserverKind::kKlEntropy}) {
    EXPECT_EQ(observer_from_name(observer_name(o)), o);
  }
  EXPECT_THAT(error_of([] { observer_from_name("max"); }),
              HasSubstr("unknown observer 'max' (accepted: minmax, ema, percentile, mse, kl)"));
}

TEST(QuantizerSpec, GroupSizeFlagAddsTheGroupOnlyWhenTheSchemeNamesNoGranularity) {
  EXPECT_EQ(with_group_size("int4", 128), "int4:g128");
  EXPECT_EQ(parse_scheme(with_group_size("int4:asym:mse", 64)).granularity.group_size, 64);
  EXPECT_THAT(error_of([] { with_group_size("int4:g32", 128); }),
              HasSubstr("--group-size 128: scheme 'int4:g32' already names its granularity (g32)"));
  EXPECT_THAT(error_of([] { with_group_size("int8:channel", 128); }), HasSubstr("already names its granularity (channel)"));
  EXPECT_THAT(error_of([] { with_group_size("q4_k", 32); }), HasSubstr("is a GGUF block type"));
  EXPECT_THAT(error_of([] { with_group_size("int4", 0); }), HasSubstr("the group size must be positive"));
}

}  // namespace
}  // namespace qforge::testing
