// exporters/hf/quant compressed-tensors FP8 `float-quantized` (docs/hf-quantized.md §7): E4M3 encoding
// bit-exact against a numpy encoder built from the OFP8 bit layout, quantization, tensors and config
// byte-identical to the numpy reference (tests/exporters/hf_quant_reference_8bit.py) for every strategy,
// activation scheme and scale dtype, dequantization equal bit for bit, pack -> unpack -> pack exact,
// errors naming the tensor, and the adapter from an FP8 QuantizedTensor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "exporters/hf/quant/adapter_ptq.h"
#include "exporters/hf/quant/fp8_layout.h"
#include "fakequant/formats/fp8.h"
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

const std::string kName = "model.layers.1.self_attn.q_proj";

struct Case {
  int64_t out, in;
  hq::Fp8Options options;
  std::vector<float> weight;
  std::optional<float> input_scale;
};

Case make_case(int64_t out, int64_t in, hq::Fp8Strategy strategy, hq::Fp8Activations activations, hq::ScaleDtype dtype,
               uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.03f);
  Case c{out, in, {strategy, activations, dtype, {"lm_head"}}, std::vector<float>(static_cast<size_t>(out * in)), {}};
  for (float& v : c.weight) v = normal(rng);
  if (activations == hq::Fp8Activations::kStaticTensor) c.input_scale = 0.0123f;
  return c;
}

std::vector<Case> all_cases() {
  using S = hq::Fp8Strategy;
  using A = hq::Fp8Activations;
  using D = hq::ScaleDtype;
  std::vector<Case> cases = {make_case(16, 32, S::kChannel, A::kDynamicToken, D::kBF16, 1),
                             make_case(8, 40, S::kTensor, A::kStaticTensor, D::kBF16, 2),
                             make_case(12, 24, S::kChannel, A::kNone, D::kF16, 3),
                             make_case(6, 16, S::kTensor, A::kDynamicTensor, D::kF32, 4),
                             make_case(9, 20, S::kChannel, A::kStaticTensor, D::kF32, 5)};
  // Row 0 of case 0 with max 448 * 2^-4, so its scale is 2^-4 and W / scale hits E4M3 ties, subnormals
  // (2^-9 steps) and their midpoints exactly; row 1 all zero (scale = BF16's epsilon); -0.0 and a tiny
  // negative value that rounds to -0.
  std::vector<float>& w = cases[0].weight;
  const float ties[] = {1.0625f, 1.1875f, 0x1p-10f, 3 * 0x1p-10f, 0x1p-9f, 240.0f, 232.0f, 13.0f, -1.0625f, -0x1p-11f};
  for (int i = 0; i < 10; ++i) w[i] = ties[i] * 0x1p-4f;
  w[10] = 448.0f * 0x1p-4f;
  w[11] = -0.0f;
  for (int64_t i = 0; i < 32; ++i) w[32 + i] = 0.0f;
  // F16 / BF16 scales that round down leave a row maximum slightly above 448 * scale: clamped to 448.
  return cases;
}

TEST(HfQuantFp8, E4m3EncoderMatchesTheBitLayoutReference) {
  // Every E4M3 magnitude, its neighbours one float32 ulp away, the midpoints to the next value and
  // their neighbours, random values across the range, both signs.
  std::vector<float> values;
  for (int code = 0; code < 127; ++code) {
    const float v = fq::decode_e4m3(static_cast<uint8_t>(code));
    const float next = code < 126 ? fq::decode_e4m3(static_cast<uint8_t>(code + 1)) : 448.0f;
    const float mid = (v + next) / 2.0f;
    for (float x : {v, std::nextafter(v, 0.0f), std::nextafter(v, 1000.0f), mid, std::nextafter(mid, 0.0f),
                    std::nextafter(mid, 1000.0f)}) {
      if (x <= 448.0f) values.insert(values.end(), {x, -x});
    }
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> exponent(-12.0f, 8.8f);
  for (int i = 0; i < 4000; ++i) values.push_back((i % 2 ? -1.0f : 1.0f) * std::fmin(std::exp2(exponent(rng)), 448.0f));
  TensorFile request;
  request.put_text("c0.layout", "e4m3");
  request.put("c0.values", {static_cast<int64_t>(values.size())}, as_doubles(values));
  const TensorFile answer =
      qforge::testing::run_torch_script("tests/exporters/hf_quant_reference_8bit.py", request, "hf_quant_e4m3");
  const std::vector<double>& codes = answer.tensor("c0.codes").values;
  ASSERT_EQ(codes.size(), values.size());
  int64_t differing = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const int ours = fq::encode_e4m3(values[i], fq::Fp8Mode::kSaturate);
    if (ours != static_cast<int>(codes[i]) && differing++ < 5) {
      ADD_FAILURE() << values[i] << ": ours " << ours << ", reference " << codes[i];
    }
  }
  EXPECT_EQ(differing, 0) << "of " << values.size();
}

TEST(HfQuantFp8, QuantizedTensorsConfigAndDequantMatchNumpy) {
  const std::vector<Case> cases = all_cases();
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::string id = reference_case_id(k);
    request.put_text(id + ".layout", "fp8");
    request.put_text(id + ".name", kName);
    request.put(id + ".float", {c.out, c.in}, as_doubles(c.weight));
    request.put(id + ".options", {3},
                {double(c.options.strategy), double(c.options.activations), double(c.options.scale_dtype)});
    if (c.input_scale) request.put(id + ".input_scale", {1}, {*c.input_scale});
  }
  const TensorFile answer =
      qforge::testing::run_torch_script("tests/exporters/hf_quant_reference_8bit.py", request, "hf_quant_fp8");
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::string id = reference_case_id(k);
    SCOPED_TRACE(id);
    hq::Fp8Weight w = hq::quantize_fp8(kName, c.weight, c.out, c.in, c.options);
    w.input_scale = c.input_scale;
    const std::vector<hq::FileTensor> tensors = hq::pack_fp8(w, c.options);
    qforge::testing::expect_same_tensors(tensors, answer, id);
    qforge::testing::expect_same_config(hq::fp8_config(c.options), answer, id);
    const hq::Fp8Options read = hq::fp8_options(hq::fp8_config(c.options));
    EXPECT_EQ(read.strategy, c.options.strategy);
    EXPECT_EQ(read.activations, c.options.activations);
    EXPECT_EQ(read.ignore, c.options.ignore);
    qforge::testing::expect_bit_equal(hq::dequantize_fp8(hq::unpack_fp8(kName, by_name(tensors), read)),
                                      answer.tensor(id + ".dequant").values, id + " dequant");
  }
}

TEST(HfQuantFp8, RoundTripIsExact) {
  for (const Case& c : all_cases()) {
    hq::Fp8Weight w = hq::quantize_fp8(kName, c.weight, c.out, c.in, c.options);
    w.input_scale = c.input_scale ? std::optional<float>(0.125f) : std::nullopt;  // exact in every dtype
    const hq::FileTensors file = by_name(hq::pack_fp8(w, c.options));
    const hq::Fp8Weight back = hq::unpack_fp8(kName, file, c.options);
    EXPECT_EQ(back.codes, w.codes);
    EXPECT_EQ(back.scales, w.scales);
    EXPECT_EQ(back.input_scale, w.input_scale);
    const hq::FileTensors again = by_name(hq::pack_fp8(back, c.options));
    ASSERT_EQ(again.size(), file.size());
    for (const auto& [name, t] : file) EXPECT_EQ(again.at(name).data, t.data) << name;
  }
}

TEST(HfQuantFp8, ErrorsNameTheTensor) {
  const Case c =
      make_case(4, 8, hq::Fp8Strategy::kChannel, hq::Fp8Activations::kStaticTensor, hq::ScaleDtype::kBF16, 3);
  hq::Fp8Weight good = hq::quantize_fp8(kName, c.weight, c.out, c.in, c.options);
  good.input_scale = 0.5f;
  const auto pack = [&](const hq::Fp8Weight& w, hq::Fp8Options o) { return error_of([&] { hq::pack_fp8(w, o); }); };
  hq::Fp8Weight bad = good;
  bad.codes[5] = 0xFF;
  EXPECT_THAT(pack(bad, c.options), AllOf(HasSubstr(kName), HasSubstr("code 5 is E4M3's NaN")));
  bad = good;
  bad.scales.pop_back();
  EXPECT_THAT(pack(bad, c.options), AllOf(HasSubstr(kName), HasSubstr("3 scales, strategy channel needs 4")));
  bad = good;
  bad.input_scale.reset();
  EXPECT_THAT(pack(bad, c.options), AllOf(HasSubstr(kName), HasSubstr("static activations need an input scale")));
  bad = good;
  bad.scales[1] = 1e30f;  // BF16 keeps it, F16 overflows
  hq::Fp8Options f16 = c.options;
  f16.scale_dtype = hq::ScaleDtype::kF16;
  EXPECT_THAT(pack(bad, f16), AllOf(HasSubstr(kName + ".weight_scale"), HasSubstr("inf in F16")));

  const hq::FileTensors file = by_name(hq::pack_fp8(good, c.options));
  const auto unpack = [&](const hq::FileTensors& f, hq::Fp8Options o) {
    return error_of([&] { hq::unpack_fp8(kName, f, o); });
  };
  hq::FileTensors changed = file;
  changed.erase(kName + ".input_scale");
  EXPECT_THAT(unpack(changed, c.options), HasSubstr(kName + ".input_scale: tensor missing"));
  hq::Fp8Options dynamic = c.options;
  dynamic.activations = hq::Fp8Activations::kDynamicToken;
  EXPECT_THAT(unpack(file, dynamic), HasSubstr(kName + ".input_scale: present"));
  hq::Fp8Options tensor = c.options;
  tensor.strategy = hq::Fp8Strategy::kTensor;
  EXPECT_THAT(unpack(file, tensor), HasSubstr(kName + ".weight_scale: shape [1] expected, found [4, 1]"));
  changed = file;
  changed.at(kName + ".weight").dtype = qforge::exporters::safetensors::Dtype::kU8;
  EXPECT_THAT(unpack(changed, c.options), HasSubstr(kName + ".weight: dtype F8_E4M3 expected, found U8"));
  EXPECT_THAT(error_of([] {
                hq::fp8_options(R"({"quant_method": "compressed-tensors", "format": "float-quantized", "config_groups":
                  {"group_0": {"weights": {"num_bits": 8, "type": "float", "strategy": "block"}}}})");
              }),
              HasSubstr("'strategy' is \"block\""));
}

TEST(HfQuantFp8, AdapterFromFp8QuantizedTensors) {
  const qforge::autograd::Tensor x = qforge::autograd::Tensor::randn(qforge::autograd::Shape{8, 16}, 2);
  for (const char* scheme : {"fp8_e4m3:channel", "fp8_e4m3:tensor"}) {
    SCOPED_TRACE(scheme);
    const fq::QuantizerSpec spec = fq::parse_scheme(scheme);
    const bool channel = std::string(scheme).ends_with("channel");
    const size_t count = channel ? 8 : 1;
    const fq::QuantizedTensor q =
        fq::quantize_tensor(x, {std::vector<float>(count, 0.0078125f), std::vector<int32_t>(count, 0)}, spec);
    hq::Fp8Options o{channel ? hq::Fp8Strategy::kChannel : hq::Fp8Strategy::kTensor,
                     hq::Fp8Activations::kNone,
                     hq::ScaleDtype::kF32,
                     {}};
    const hq::Fp8Weight w = hq::fp8_weight(kName + ".weight", q, o);
    const std::vector<float> back = hq::dequantize_fp8(hq::unpack_fp8(kName, by_name(hq::pack_fp8(w, o)), o));
    const qforge::autograd::Tensor expected = fq::dequantize_tensor(q);
    for (size_t i = 0; i < back.size(); ++i) ASSERT_EQ(back[i], expected.data()[i]) << i;
    o.strategy = channel ? hq::Fp8Strategy::kTensor : hq::Fp8Strategy::kChannel;
    EXPECT_THAT(error_of([&] { hq::fp8_weight(kName + ".weight", q, o); }),
                AllOf(HasSubstr(kName + ".weight"), HasSubstr("no FP8 float-quantized layout")));
  }
}

}  // namespace
