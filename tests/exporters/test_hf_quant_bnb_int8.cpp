// exporters/hf/quant bitsandbytes LLM.int8() (docs/hf-quantized.md §6): quantization, tensors and config
// byte-identical to the numpy reference (tests/exporters/hf_quant_reference_8bit.py), dequantization equal
// to bitsandbytes' formula bit for bit, pack -> unpack -> pack exact, errors naming the tensor, and the
// adapter from an int8 per-channel QuantizedTensor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "exporters/hf/quant/adapter_ptq.h"
#include "exporters/hf/quant/bitsandbytes_int8_layout.h"
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
using qforge::testing::reference_case_id;
using qforge::testing::TensorFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

const std::string kName = "model.layers.0.mlp.down_proj";

struct Case {
  int64_t out, in;
  double threshold;
  std::vector<float> weight;
};

Case make_case(int64_t out, int64_t in, double threshold, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  Case c{out, in, threshold, std::vector<float>(static_cast<size_t>(out * in))};
  for (float& v : c.weight) v = normal(rng);
  return c;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases = {make_case(16, 40, 6.0, 1), make_case(5, 33, 3.5, 2), make_case(32, 64, 20.0, 3)};
  // An all-zero row (SCB 0), a row whose absmax is negative, and a row of exact halves.
  for (int64_t i = 0; i < 33; ++i) cases[1].weight[2 * 33 + i] = 0.0f;
  cases[1].weight[3 * 33 + 7] = -1.0f;
  for (int64_t i = 0; i < 33; ++i) cases[1].weight[4 * 33 + i] = static_cast<float>(i) - 16.5f;
  cases[1].weight[4 * 33 + 32] = 127.0f;  // SCB 127: W * (127 / 127) keeps the halves, rounded to even
  return cases;
}

TEST(HfQuantBnbInt8, QuantizedTensorsConfigAndDequantMatchNumpy) {
  const std::vector<Case> cases = all_cases();
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string id = reference_case_id(k);
    request.put_text(id + ".layout", "bnb-int8");
    request.put_text(id + ".name", kName);
    request.put(id + ".float", {cases[k].out, cases[k].in}, as_doubles(cases[k].weight));
    request.put(id + ".threshold", {1}, {cases[k].threshold});
  }
  const TensorFile answer =
      qforge::testing::run_torch_script("tests/exporters/hf_quant_reference_8bit.py", request, "hf_quant_bnb_int8");
  for (size_t k = 0; k < cases.size(); ++k) {
    const std::string id = reference_case_id(k);
    SCOPED_TRACE(id);
    const hq::BnbInt8Weight w = hq::quantize_bnb_int8(kName, cases[k].weight, cases[k].out, cases[k].in);
    const std::vector<hq::FileTensor> tensors = hq::pack_bnb_int8(w);
    qforge::testing::expect_same_tensors(tensors, answer, id);
    qforge::testing::expect_same_config(hq::bnb_int8_config({cases[k].threshold, {"lm_head"}}), answer, id);
    qforge::testing::expect_bit_equal(hq::dequantize_bnb_int8(hq::unpack_bnb_int8(kName, by_name(tensors))),
                                      answer.tensor(id + ".dequant").values, id + " dequant");
  }
}

TEST(HfQuantBnbInt8, RoundTripIsExact) {
  for (const Case& c : all_cases()) {
    const hq::BnbInt8Weight w = hq::quantize_bnb_int8(kName, c.weight, c.out, c.in);
    const hq::FileTensors file = by_name(hq::pack_bnb_int8(w));
    const hq::BnbInt8Weight back = hq::unpack_bnb_int8(kName, file);
    EXPECT_EQ(back.out, w.out);
    EXPECT_EQ(back.in, w.in);
    EXPECT_EQ(back.codes, w.codes);
    EXPECT_EQ(back.row_absmax, w.row_absmax);
    const hq::FileTensors again = by_name(hq::pack_bnb_int8(back));
    for (const auto& [name, t] : file) EXPECT_EQ(again.at(name).data, t.data) << name;
  }
  const hq::BnbInt8Options o = hq::bnb_int8_options(hq::bnb_int8_config({3.25, {"lm_head", "model.embed_tokens"}}));
  EXPECT_EQ(o.threshold, 3.25);
  EXPECT_EQ(o.skip_modules, (std::vector<std::string>{"lm_head", "model.embed_tokens"}));
}

TEST(HfQuantBnbInt8, ErrorsNameTheTensor) {
  const Case c = make_case(4, 8, 6.0, 9);
  const hq::BnbInt8Weight good = hq::quantize_bnb_int8(kName, c.weight, c.out, c.in);
  hq::BnbInt8Weight bad = good;
  bad.codes[9] = -128;
  EXPECT_THAT(error_of([&] { hq::pack_bnb_int8(bad); }), AllOf(HasSubstr(kName), HasSubstr("code -128 at [1, 1]")));
  bad = good;
  bad.row_absmax[2] = -1.0f;
  EXPECT_THAT(error_of([&] { hq::pack_bnb_int8(bad); }), AllOf(HasSubstr(kName), HasSubstr("SCB[2]")));
  bad = good;
  bad.row_absmax[3] = 0.0f;
  EXPECT_THAT(error_of([&] { hq::pack_bnb_int8(bad); }), AllOf(HasSubstr(kName), HasSubstr("row 3 has SCB 0")));
  bad = good;
  bad.in = 7;
  EXPECT_THAT(error_of([&] { hq::pack_bnb_int8(bad); }), AllOf(HasSubstr(kName), HasSubstr("for a [4, 7] weight")));

  const hq::FileTensors file = by_name(hq::pack_bnb_int8(good));
  const auto unpack = [&](const hq::FileTensors& f) { return error_of([&] { hq::unpack_bnb_int8(kName, f); }); };
  hq::FileTensors changed = file;
  changed.erase(kName + ".SCB");
  EXPECT_THAT(unpack(changed), HasSubstr(kName + ".SCB: tensor missing"));
  changed = file;
  changed.at(kName + ".weight").dtype = qforge::exporters::safetensors::Dtype::kU8;
  EXPECT_THAT(unpack(changed), HasSubstr(kName + ".weight: dtype I8 expected, found U8"));
  changed = file;
  changed.at(kName + ".weight_format").data[0] = std::byte{2};
  EXPECT_THAT(unpack(changed), AllOf(HasSubstr(kName + ".weight_format: 2"), HasSubstr("legacy")));
  changed = file;
  changed.erase(kName + ".weight_format");  // bitsandbytes reads a missing format as row-major
  EXPECT_EQ(unpack(changed), "<no error>");
  EXPECT_THAT(error_of([] { hq::bnb_int8_options(R"({"quant_method": "bitsandbytes", "load_in_4bit": true})"); }),
              HasSubstr("load_in_8bit"));
}

TEST(HfQuantBnbInt8, AdapterFromInt8PerChannelWeights) {
  const fq::QuantizerSpec spec = fq::parse_scheme("int8:channel");
  const qforge::autograd::Tensor x = qforge::autograd::Tensor::randn(qforge::autograd::Shape{24, 48}, 4);
  const fq::QuantParams params = fq::compute_scales(x, fq::IntFormat{8, true}, spec.granularity);
  const fq::QuantizedTensor q = fq::quantize_tensor(x, params, spec);
  const hq::BnbInt8Weight w = hq::bnb_int8_weight(kName + ".weight", q);
  EXPECT_EQ(w.name, kName);
  const qforge::autograd::Tensor expected = fq::dequantize_tensor(q);
  const std::vector<float> theirs = hq::dequantize_bnb_int8(hq::unpack_bnb_int8(kName, by_name(hq::pack_bnb_int8(w))));
  // CB * SCB / 127 against code * scale: float32 rounding apart (docs/hf-quantized.md §6).
  double worst = 0.0;
  for (size_t i = 0; i < theirs.size(); ++i) {
    const double e = expected.data()[i];
    if (e != 0.0) worst = std::max(worst, std::fabs(theirs[i] - e) / std::fabs(e));
  }
  std::printf("bitsandbytes int8 vs qforge int8:channel: max relative difference %.3g\n", worst);
  EXPECT_LE(worst, 4.0 * 0x1p-24);
  const fq::QuantParams asym = fq::compute_scales(x, fq::IntFormat{8, false}, spec.granularity);
  fq::QuantizerSpec asym_spec = fq::parse_scheme("int8:channel:asym");
  EXPECT_THAT(error_of([&] { hq::bnb_int8_weight(kName + ".weight", fq::quantize_tensor(x, asym, asym_spec)); }),
              AllOf(HasSubstr(kName + ".weight"), HasSubstr("no bitsandbytes int8 layout")));
}

}  // namespace
