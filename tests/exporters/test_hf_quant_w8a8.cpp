// exporters/hf/quant compressed-tensors W8A8 int8 `int-quantized` (docs/hf-quantized.md §8): tensors and
// config byte-identical to the numpy reference (tests/exporters/hf_quant_reference_8bit.py) for symmetric
// and asymmetric weights and every scale dtype, dequantization equal bit for bit, pack -> unpack -> pack
// exact, errors naming the tensor, and qforge's int8 per-channel weights through adapter.h.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>

#include "exporters/hf/quant/adapter.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/quantizer_spec.h"
#include "tests/exporters/hf_quant_reference_util.h"
#include "tests/exporters/hf_quant_test_util.h"
#include "tests/support/torch_runner.h"

namespace hq = qforge::exporters::hf::quant;
namespace fq = qforge::fakequant;
using qforge::testing::as_doubles;
using qforge::testing::by_name;
using qforge::testing::error_of;
using qforge::testing::random_weight;
using qforge::testing::RandomWeightSpec;
using qforge::testing::reference_case_id;
using qforge::testing::TensorFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

const std::string kName = "model.layers.2.mlp.gate_proj";
const hq::HfQuantLayout& w8a8() { return hq::hf_quant_layout("w8a8-int8"); }

struct Case {
  RandomWeightSpec spec;
  hq::ScaleDtype dtype;
};

hq::HfQuantOptions options_of(const Case& c) {
  hq::HfQuantOptions o = qforge::testing::options_for(c.spec);
  o.scale_dtype = c.dtype;
  return o;
}

std::vector<Case> all_cases() {
  const auto spec = [](bool symmetric, bool f16_exact, uint32_t seed) {
    return RandomWeightSpec{.name = kName,
                            .out = 24,
                            .in = 40,
                            .bits = 8,
                            .group_size = -1,
                            .symmetric = symmetric,
                            .f16_exact_scales = f16_exact,
                            .seed = seed};
  };
  return {{spec(true, true, 1), hq::ScaleDtype::kBF16},
          {spec(false, false, 2), hq::ScaleDtype::kBF16},
          {spec(true, false, 3), hq::ScaleDtype::kF16},
          {spec(false, true, 4), hq::ScaleDtype::kF32}};
}

TEST(HfQuantW8a8, TensorsConfigAndDequantMatchNumpy) {
  const std::vector<Case> cases = all_cases();
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const hq::GroupedIntWeight w = random_weight(cases[k].spec);
    const std::string id = reference_case_id(k);
    request.put_text(id + ".layout", "w8a8");
    request.put_text(id + ".name", w.name);
    request.put(id + ".codes", {w.out, w.in}, as_doubles(w.codes));
    request.put(id + ".scales", {w.out}, as_doubles(w.scales));
    request.put(id + ".zeros", {w.out}, as_doubles(w.zeros));
    request.put(id + ".options", {2}, {double(cases[k].spec.symmetric), double(cases[k].dtype)});
  }
  const TensorFile answer =
      qforge::testing::run_torch_script("tests/exporters/hf_quant_reference_8bit.py", request, "hf_quant_w8a8");
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string id = reference_case_id(k);
    SCOPED_TRACE(id);
    const hq::HfQuantOptions o = options_of(cases[k]);
    const std::vector<hq::FileTensor> tensors = w8a8().pack(random_weight(cases[k].spec), o);
    qforge::testing::expect_same_tensors(tensors, answer, id);
    qforge::testing::expect_same_config(w8a8().config(o), answer, id);
    const hq::HfQuantOptions read = w8a8().options_from_config(w8a8().config(o));
    EXPECT_EQ(read.symmetric, o.symmetric);
    EXPECT_EQ(read.group_size, -1);
    EXPECT_EQ(read.ignore, o.ignore);
    qforge::testing::expect_bit_equal(hq::dequantize(w8a8().unpack(kName, by_name(tensors), read)),
                                      answer.tensor(id + ".dequant").values, id + " dequant");
  }
}

TEST(HfQuantW8a8, RoundTripIsExact) {
  for (Case c : all_cases()) {
    const hq::HfQuantOptions o = options_of(c);
    hq::GroupedIntWeight w = qforge::testing::with_filled_g_idx(random_weight(c.spec));
    // Scales that are values of the file's dtype come back exactly.
    for (float& s : w.scales) {
      if (c.dtype == hq::ScaleDtype::kF16) s = fq::round_to_fp16(s);
      if (c.dtype == hq::ScaleDtype::kBF16) s = fq::round_to_bf16(s);
    }
    const hq::FileTensors file = by_name(w8a8().pack(w, o));
    const hq::GroupedIntWeight back = w8a8().unpack(kName, file, o);
    EXPECT_EQ(back.codes, w.codes);
    EXPECT_EQ(back.zeros, w.zeros);
    EXPECT_EQ(back.scales, w.scales);
    EXPECT_EQ(back.g_idx, w.g_idx);
    const hq::FileTensors again = by_name(w8a8().pack(back, o));
    ASSERT_EQ(again.size(), file.size());
    for (const auto& [name, t] : file) EXPECT_EQ(again.at(name).data, t.data) << name;
  }
}

TEST(HfQuantW8a8, ErrorsNameTheTensor) {
  const Case c = all_cases()[1];
  const hq::HfQuantOptions o = options_of(c);
  const auto pack = [&](const RandomWeightSpec& s, const hq::HfQuantOptions& opt) {
    return error_of([&] { w8a8().pack(random_weight(s), opt); });
  };
  RandomWeightSpec grouped = c.spec;
  grouped.group_size = 8;
  hq::HfQuantOptions grouped_options = o;
  grouped_options.group_size = 8;
  EXPECT_THAT(pack(grouped, grouped_options), AllOf(HasSubstr(kName), HasSubstr("one scale per output channel")));
  RandomWeightSpec four = c.spec;
  four.bits = 4;
  hq::HfQuantOptions four_options = o;
  four_options.bits = 4;
  EXPECT_THAT(pack(four, four_options), AllOf(HasSubstr(kName), HasSubstr("4-bit")));
  hq::HfQuantOptions sym = o;
  sym.symmetric = true;
  EXPECT_THAT(pack(c.spec, sym), AllOf(HasSubstr(kName), HasSubstr("symmetric: zero point")));

  const hq::FileTensors file = by_name(w8a8().pack(random_weight(c.spec), o));
  const auto unpack = [&](const hq::FileTensors& f, const hq::HfQuantOptions& opt) {
    return error_of([&] { w8a8().unpack(kName, f, opt); });
  };
  hq::FileTensors changed = file;
  changed.erase(kName + ".weight_zero_point");
  EXPECT_THAT(unpack(changed, o), HasSubstr(kName + ".weight_zero_point: tensor missing"));
  EXPECT_THAT(unpack(file, sym), HasSubstr(kName + ".weight_zero_point: present"));
  changed = file;
  changed.at(kName + ".weight_scale").shape = {1, 24};
  EXPECT_THAT(unpack(changed, o), HasSubstr(kName + ".weight_scale: shape [24, 1] expected, found [1, 24]"));
  EXPECT_THAT(error_of([] {
                hq::w8a8_int8_options(R"({"quant_method": "compressed-tensors", "format": "int-quantized",
                  "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "int", "strategy": "channel"},
                  "input_activations": {"num_bits": 8, "type": "int", "strategy": "tensor", "dynamic": false}}}})");
              }),
              HasSubstr("not dynamic per token"));
}

TEST(HfQuantW8a8, Int8ChannelWeightsThroughTheAdapterKeepTheirValues) {
  for (const char* scheme : {"int8:channel:scale_fp16", "int8:channel:asym:scale_fp16"}) {
    SCOPED_TRACE(scheme);
    const fq::QuantizerSpec spec = fq::parse_scheme(scheme);
    const qforge::autograd::Tensor x = qforge::autograd::Tensor::randn(qforge::autograd::Shape{16, 32}, 6);
    const fq::QuantParams params = fq::compute_scales(x, fq::IntFormat{8, spec.symmetric}, spec.granularity);
    const fq::QuantizedTensor q = fq::quantize_tensor(x, params, spec);
    const hq::GroupedIntWeight w = hq::grouped_int_weight(kName + ".weight", q);
    hq::HfQuantOptions o = qforge::testing::options_for({.bits = 8, .group_size = -1, .symmetric = spec.symmetric});
    o.scale_dtype = hq::ScaleDtype::kF16;
    const std::vector<float> back = hq::dequantize(w8a8().unpack(kName, by_name(w8a8().pack(w, o)), o));
    const qforge::autograd::Tensor expected = fq::dequantize_tensor(q);
    for (size_t i = 0; i < back.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(expected.data()[i])) << i;
    }
  }
}

}  // namespace
