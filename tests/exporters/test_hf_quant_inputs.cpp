// exporters/hf/quant inputs: weights a layout cannot store raise std::invalid_argument naming the tensor
// (and the reason), unpackers name the file tensor that is missing or malformed, and the adapter from
// fakequant's converted weights keeps qforge's dequantized values bit for bit through pack and unpack.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>

#include "exporters/hf/quant/adapter.h"
#include "fakequant/int_quantizer.h"
#include "fakequant/quantized_tensor.h"
#include "tests/exporters/hf_quant_test_util.h"

namespace hq = qforge::exporters::hf::quant;
namespace fq = qforge::fakequant;
using qforge::testing::by_name;
using qforge::testing::options_for;
using qforge::testing::random_weight;
using qforge::testing::RandomWeightSpec;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

const std::string kName = "model.layers.3.self_attn.o_proj";

std::string pack_error(const std::string& layout, const hq::GroupedIntWeight& w, const hq::HfQuantOptions& options) {
  try {
    hq::hf_quant_layout(layout).pack(w, options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no error>";
}

std::string pack_error(const std::string& layout, const RandomWeightSpec& s) {
  return pack_error(layout, random_weight(s), options_for(s));
}

TEST(HfQuantErrors, PackedAxisNotWholeWords) {
  // GPTQ 4-bit along in = 36: 4.5 words; 3-bit needs multiples of 32 on both axes.
  EXPECT_THAT(pack_error("gptq", {.name = kName, .out = 32, .in = 36, .group_size = 12}),
              AllOf(HasSubstr(kName), HasSubstr("in = 36"), HasSubstr("multiple of 8")));
  EXPECT_THAT(pack_error("gptq", {.name = kName, .out = 16, .in = 64, .bits = 3}),
              AllOf(HasSubstr(kName), HasSubstr("out = 16"), HasSubstr("multiple of 32")));
  EXPECT_THAT(pack_error("awq", {.name = kName, .out = 12, .in = 64, .symmetric = false}),
              AllOf(HasSubstr(kName), HasSubstr("out = 12"), HasSubstr("multiple of 8")));
  EXPECT_THAT(pack_error("compressed-tensors", {.name = kName, .out = 32, .in = 24, .bits = 2, .group_size = 8}),
              AllOf(HasSubstr(kName), HasSubstr("in = 24"), HasSubstr("multiple of 16")));
  // Zero points are packed along out only when stored (asymmetric).
  EXPECT_NO_THROW(hq::hf_quant_layout("compressed-tensors").pack(random_weight({.out = 20}), options_for({})));
  EXPECT_THAT(pack_error("compressed-tensors", {.name = kName, .out = 20, .symmetric = false}),
              AllOf(HasSubstr(kName), HasSubstr("out = 20"), HasSubstr("multiple of 8")));
}

TEST(HfQuantErrors, GptqV1ZeroPointZero) {
  RandomWeightSpec s{.name = kName, .bits = 4, .symmetric = false, .min_zero = 1};
  hq::GroupedIntWeight w = random_weight(s);
  w.zeros[5 * w.groups() + 2] = 0;
  EXPECT_THAT(pack_error("gptq", w, options_for(s)),
              AllOf(HasSubstr(kName), HasSubstr("zero point 0"), HasSubstr("row 5, group 2"), HasSubstr("gptq_v2")));
  hq::HfQuantOptions v2 = options_for(s);
  v2.gptq_v2 = true;
  EXPECT_NO_THROW(hq::hf_quant_layout("gptq").pack(w, v2));
}

TEST(HfQuantErrors, GroupSizeNotDividingIn) {
  for (const hq::HfQuantLayout& layout : hq::hf_quant_layouts()) {
    hq::GroupedIntWeight w = random_weight({.name = kName, .symmetric = false, .min_zero = 1});
    w.group_size = 48;  // in = 128
    hq::HfQuantOptions o = options_for({.group_size = 48, .symmetric = false});
    EXPECT_THAT(pack_error(layout.name, w, o), AllOf(HasSubstr(kName), HasSubstr("group size 48 does not divide in = 128")))
        << layout.name;
  }
}

TEST(HfQuantErrors, WeightDisagreesWithTheConfig) {
  const RandomWeightSpec asym{.name = kName, .symmetric = false, .min_zero = 1};
  hq::HfQuantOptions sym = options_for(asym);
  sym.symmetric = true;
  EXPECT_THAT(pack_error("gptq", random_weight(asym), sym), AllOf(HasSubstr(kName), HasSubstr("symmetric: zero point")));
  const RandomWeightSpec act{.name = kName, .act_order = true};
  hq::HfQuantOptions no_act = options_for(act);
  no_act.act_order = false;
  EXPECT_THAT(pack_error("gptq", random_weight(act), no_act), AllOf(HasSubstr(kName), HasSubstr("act-order")));
  EXPECT_THAT(pack_error("awq", act), AllOf(HasSubstr(kName), HasSubstr("no g_idx")));
  EXPECT_THAT(pack_error("awq", {.name = kName, .bits = 3}), AllOf(HasSubstr(kName), HasSubstr("3-bit")));
  EXPECT_THAT(pack_error("compressed-tensors", {.name = kName, .bits = 3}), AllOf(HasSubstr(kName), HasSubstr("3-bit")));
  hq::HfQuantOptions eight = options_for({});
  eight.bits = 8;
  EXPECT_THAT(pack_error("gptq", random_weight({.name = kName}), eight), AllOf(HasSubstr(kName), HasSubstr("says 8")));
}

TEST(HfQuantErrors, InvalidRepresentation) {
  hq::GroupedIntWeight w = random_weight({.name = kName});
  w.codes[3] = 16;
  EXPECT_THAT(pack_error("gptq", w, options_for({})), AllOf(HasSubstr(kName), HasSubstr("codes[3] = 16")));
  w = random_weight({.name = kName});
  w.scales[1] = 0.0f;
  EXPECT_THAT(pack_error("gptq", w, options_for({})), AllOf(HasSubstr(kName), HasSubstr("scale[1]")));
  w = random_weight({.name = kName});
  w.scales[2] = 1e6f;  // F16 overflows to inf
  EXPECT_THAT(pack_error("gptq", w, options_for({})), AllOf(HasSubstr(kName + ".scales"), HasSubstr("inf in F16")));
  w = random_weight({.name = kName, .act_order = true});
  std::swap(w.g_idx[0], w.g_idx[1]);
  w.g_idx[0] = w.g_idx[1];  // one group now has 33 columns
  EXPECT_THAT(pack_error("gptq", w, options_for({.act_order = true})), AllOf(HasSubstr(kName), HasSubstr("g_idx")));
}

TEST(HfQuantErrors, UnpackNamesTheFileTensor) {
  const RandomWeightSpec s{.name = kName, .symmetric = false, .min_zero = 1};
  const hq::HfQuantLayout& gptq = hq::hf_quant_layout("gptq");
  hq::FileTensors file = by_name(gptq.pack(random_weight(s), options_for(s)));
  const auto unpack_error = [&](const hq::FileTensors& f) {
    try {
      gptq.unpack(kName, f, options_for(s));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  hq::FileTensors missing = file;
  missing.erase(kName + ".qzeros");
  EXPECT_THAT(unpack_error(missing), HasSubstr(kName + ".qzeros: tensor missing"));
  hq::FileTensors reshaped = file;
  reshaped.at(kName + ".qweight").shape = {8, 128};
  EXPECT_THAT(unpack_error(reshaped), HasSubstr(kName + ".qweight: shape [16, 64] expected, found [8, 128]"));
  hq::FileTensors retyped = file;
  retyped.at(kName + ".g_idx").dtype = qforge::exporters::safetensors::Dtype::kI64;
  EXPECT_THAT(unpack_error(retyped), HasSubstr(kName + ".g_idx: dtype I32 expected, found I64"));
  // A v1 qzeros field of 15 decodes to z = 16, off the 4-bit grid (kernels disagree on it).
  hq::FileTensors overflow = file;
  for (std::byte& b : overflow.at(kName + ".qzeros").data) b = std::byte{0xFF};
  EXPECT_THAT(unpack_error(overflow), AllOf(HasSubstr(kName), HasSubstr("zeros[0] = 16")));
}

// fakequant::convert()'s representation through the adapter, a layout and back gives qforge's
// dequantized weight bit for bit when the quantizer keeps F16 scales.
void expect_adapter_exact(const std::string& scheme, const std::string& layout_name, hq::HfQuantOptions options) {
  SCOPED_TRACE(scheme + " -> " + layout_name);
  const fq::QuantizerSpec spec = fq::parse_scheme(scheme);
  const qforge::autograd::Tensor x = qforge::autograd::Tensor::randn(qforge::autograd::Shape{16, 64}, 5);
  const fq::QuantParams params = fq::compute_scales(x, fq::IntFormat{spec.bits, spec.symmetric}, spec.granularity);
  const fq::QuantizedTensor q = fq::quantize_tensor(x, params, spec);
  const qforge::autograd::Tensor expected = fq::dequantize_tensor(q);
  const hq::GroupedIntWeight w = hq::grouped_int_weight(kName + ".weight", q);
  EXPECT_EQ(w.name, kName);
  const hq::HfQuantLayout& layout = hq::hf_quant_layout(layout_name);
  const std::vector<float> back = hq::dequantize(layout.unpack(kName, by_name(layout.pack(w, options)), options));
  ASSERT_EQ(back.size(), static_cast<size_t>(expected.numel()));
  for (size_t i = 0; i < back.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(expected.data()[i])) << i;
  }
}

TEST(HfQuantAdapter, ConvertedWeightsKeepTheirValues) {
  hq::HfQuantOptions sym_g32 = options_for({.bits = 4, .group_size = 32});
  expect_adapter_exact("int4:g32:scale_fp16", "gptq", sym_g32);
  expect_adapter_exact("int4:g32:scale_fp16", "compressed-tensors", sym_g32);
  hq::HfQuantOptions asym_g16 = options_for({.bits = 4, .group_size = 16, .symmetric = false});
  expect_adapter_exact("int4:g16:asym:scale_fp16", "awq", asym_g16);
  expect_adapter_exact("int4:g16:asym:scale_fp16", "compressed-tensors", asym_g16);
  hq::HfQuantOptions channel8 = options_for({.bits = 8, .group_size = -1});
  expect_adapter_exact("int8:channel:scale_fp16", "gptq", channel8);
  expect_adapter_exact("int8:tensor:scale_fp16", "compressed-tensors", channel8);
}

TEST(HfQuantAdapter, GroupIndexStateAndRefusals) {
  fq::GroupIndexState state;
  state.rows = 2;
  state.cols = 4;
  state.bits = 4;
  state.group_size = 2;
  state.g_idx = {1, 0, 0, 1};
  state.scales = {0.5f, 0.25f, 1.0f, 2.0f};
  state.zeros = {8, 3, 0, 15};
  const hq::GroupedIntWeight w = hq::grouped_int_weight(kName + ".weight", state, {0, 1, 2, 3, 4, 5, 6, 7});
  EXPECT_EQ(hq::dequantize(w), (std::vector<float>{-0.75f, -3.5f, -3.0f, 0.0f, -22.0f, 5.0f, 6.0f, -16.0f}));
  const fq::QuantizerSpec fp8 = fq::parse_scheme("fp8_e4m3:channel");
  const qforge::autograd::Tensor x = qforge::autograd::Tensor::randn(qforge::autograd::Shape{4, 8}, 1);
  const fq::QuantizedTensor q = fq::quantize_tensor(x, {std::vector<float>(4, 0.01f), std::vector<int32_t>(4, 0)}, fp8);
  try {
    hq::grouped_int_weight(kName + ".weight", q);
    FAIL() << "fp8 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(kName + ".weight"), HasSubstr("no Hugging Face integer layout")));
  }
}

}  // namespace
