// exporters/hf/quant against tests/exporters/hf_quant_reference.py, an independent numpy implementation
// of the published layouts (docs/hf-quantized.md §2-§4): for every layout, bit width, act-order and
// zero-point choice the packer must give the same tensor names, dtypes, shapes and bytes, an equal
// quantization_config object, and the unpacker's dequantization must equal the formula bit for bit.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

#include "tests/exporters/hf_quant_test_util.h"
#include "tests/support/torch_runner.h"

namespace st = qforge::exporters::safetensors;
namespace hq = qforge::exporters::hf::quant;
using qforge::testing::options_for;
using qforge::testing::random_weight;
using qforge::testing::RandomWeightSpec;
using qforge::testing::TensorFile;

namespace {

struct Case {
  std::string layout;
  RandomWeightSpec spec;
  hq::HfQuantOptions options;
};

Case make_case(const std::string& layout, RandomWeightSpec spec, bool gptq_v2 = false, bool bf16 = false) {
  // Non-F16 scales half the time, so the reference also checks the packer's rounding of scales.
  spec.f16_exact_scales = spec.seed % 2 == 0;
  Case c{layout, spec, options_for(spec)};
  c.options.gptq_v2 = gptq_v2;
  c.options.scale_dtype = bf16 ? hq::ScaleDtype::kBF16 : hq::ScaleDtype::kF16;
  return c;
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  uint32_t seed = 1;
  for (int bits : {2, 3, 4, 8}) {
    // v1 symmetric; v1 asymmetric act-order (zeros >= 1); v2 asymmetric per-channel with zeros 0.
    cases.push_back(make_case("gptq", {.bits = bits, .seed = seed++}));
    cases.push_back(make_case("gptq", {.bits = bits, .symmetric = false, .min_zero = 1, .act_order = true, .seed = seed++}));
    cases.push_back(make_case("gptq", {.bits = bits, .group_size = -1, .symmetric = false, .seed = seed++}, true));
  }
  cases.push_back(make_case("awq", {.out = 24, .in = 64, .symmetric = false, .seed = seed++}));
  cases.push_back(make_case("awq", {.out = 24, .in = 64, .group_size = -1, .seed = seed++}));
  for (int bits : {2, 4, 8}) {
    cases.push_back(make_case("compressed-tensors", {.bits = bits, .seed = seed++}));
    cases.push_back(make_case("compressed-tensors", {.out = 32, .in = 48, .bits = bits, .group_size = 12,
                                                     .symmetric = false, .act_order = true, .seed = seed++},
                              false, true));
    cases.push_back(make_case("compressed-tensors", {.bits = bits, .group_size = -1, .symmetric = false, .seed = seed++}));
  }
  return cases;
}

// "c<k>", built by appending: GCC 12 reports a false -Wrestrict on "c" + std::to_string(k).
std::string case_id(size_t k) {
  std::string id = "c";
  id += std::to_string(k);
  return id;
}

std::vector<double> as_doubles(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }
std::vector<double> as_doubles(const std::vector<float>& v) { return {v.begin(), v.end()}; }

TensorFile request_of(const std::vector<Case>& cases) {
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::string id = case_id(k);
    const hq::GroupedIntWeight w = qforge::testing::with_filled_g_idx(random_weight(c.spec));
    request.put_text(id + ".layout", c.layout);
    request.put_text(id + ".name", w.name);
    request.put(id + ".options", {6},
                {double(c.options.bits), double(c.options.group_size), double(c.options.symmetric),
                 double(c.options.act_order), double(c.options.gptq_v2),
                 double(c.options.scale_dtype == hq::ScaleDtype::kBF16)});
    request.put(id + ".codes", {w.out, w.in}, as_doubles(w.codes));
    request.put(id + ".scales", {w.out, w.groups()}, as_doubles(w.scales));
    request.put(id + ".zeros", {w.out, w.groups()}, as_doubles(w.zeros));
    request.put(id + ".g_idx", {w.in}, as_doubles(w.g_idx));
  }
  return request;
}

// The reference's element bit patterns as little-endian bytes of the dtype's width.
std::vector<std::byte> reference_bytes(const qforge::testing::TensorRecord& r, const std::string& dtype) {
  const size_t width = dtype == "I64" ? 8 : dtype == "I32" ? 4 : 2;
  std::vector<std::byte> out;
  for (double v : r.values) {
    const uint64_t bits = static_cast<uint64_t>(v);
    for (size_t b = 0; b < width; ++b) out.push_back(static_cast<std::byte>((bits >> (8 * b)) & 0xFF));
  }
  return out;
}

std::string names_of(const std::vector<hq::FileTensor>& tensors) {
  std::vector<std::string> names;
  for (const hq::FileTensor& t : tensors) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const std::string& n : names) joined += (joined.empty() ? "" : "\n") + n;
  return joined;
}

void expect_same_tensor(const hq::FileTensor& t, const TensorFile& answer, const std::string& id) {
  const std::string key = id + "/" + t.name;
  EXPECT_EQ(st::dtype_name(t.dtype), answer.text(key + ".dtype")) << key;
  const qforge::testing::TensorRecord& r = answer.tensor(key);
  EXPECT_EQ(t.shape, r.dims) << key;
  const std::vector<std::byte> expected = reference_bytes(r, st::dtype_name(t.dtype));
  ASSERT_EQ(t.data.size(), expected.size()) << key;
  const auto mismatch = std::mismatch(t.data.begin(), t.data.end(), expected.begin());
  EXPECT_TRUE(mismatch.first == t.data.end())
      << key << ": first differing byte " << (mismatch.first - t.data.begin()) << " of " << t.data.size();
}

void expect_dequant_equal(const std::vector<float>& ours, const qforge::testing::TensorRecord& r, const std::string& id) {
  ASSERT_EQ(ours.size(), r.values.size()) << id;
  int64_t differing = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    differing += std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(static_cast<float>(r.values[i]));
  }
  EXPECT_EQ(differing, 0) << id << ": dequantized elements differing from the formula";
}

TEST(HfQuantReference, PackedTensorsConfigAndDequantMatchNumpy) {
  const std::vector<Case> cases = all_cases();
  const TensorFile answer = qforge::testing::run_torch_script("tests/exporters/hf_quant_reference.py",
                                                              request_of(cases), "hf_quant");
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const std::string id = case_id(k);
    SCOPED_TRACE(id + " " + c.layout + " " + std::to_string(c.options.bits) + "-bit");
    const hq::HfQuantLayout& layout = hq::hf_quant_layout(c.layout);
    const std::vector<hq::FileTensor> tensors = layout.pack(random_weight(c.spec), c.options);
    ASSERT_EQ(names_of(tensors), answer.text(id + ".tensors"));
    for (const hq::FileTensor& t : tensors) expect_same_tensor(t, answer, id);
    EXPECT_EQ(nlohmann::json::parse(layout.config(c.options)), nlohmann::json::parse(answer.text(id + ".config")));
    const hq::GroupedIntWeight unpacked = layout.unpack(c.spec.name, qforge::testing::by_name(tensors), c.options);
    expect_dequant_equal(hq::dequantize(unpacked), answer.tensor(id + ".dequant"), id);
  }
}

}  // namespace
