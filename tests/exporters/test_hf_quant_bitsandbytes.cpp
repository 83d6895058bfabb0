// exporters/hf/quant bitsandbytes 4-bit: byte-identical tensors, quant_state JSON and config against the
// independent numpy reference (tests/exporters/hf_quant_reference.py), including float weights quantized
// to bitsandbytes' fp4 as its quantize_4bit does, dequantization equal to bitsandbytes' formula bit for
// bit, exact pack -> unpack round trips, the --quant rows a config names, and errors naming the tensor
// (docs/hf-quantized.md §5).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <iterator>
#include <random>

#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/bitsandbytes_layout.h"
#include "tests/exporters/hf_quant_test_util.h"
#include "tests/support/torch_runner.h"

namespace st = qforge::exporters::safetensors;
namespace hq = qforge::exporters::hf::quant;
namespace fq = qforge::fakequant;
using qforge::testing::by_name;
using qforge::testing::TensorFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

namespace {

struct BnbCase {
  hq::Bnb4BitWeight weight;
  hq::BnbOptions options;
};

// Random weights through qforge's own blockwise quantizer; FP4's subnormal codes (1, 9), which
// bitsandbytes cannot store, are moved to the zero codes (0, 8) so the case packs.
BnbCase make_case(fq::FourBitType type, bool double_quant, int64_t blocksize, int64_t out, int64_t in,
                  const std::string& dtype, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(static_cast<size_t>(out * in));
  for (float& v : x) v = normal(rng);
  BnbCase c;
  c.options = {type, double_quant, blocksize, dtype, {"lm_head"}};
  c.weight.name = "model.layers.1.mlp.down_proj";
  c.weight.out = out;
  c.weight.in = in;
  c.weight.blocks = fq::quantize_blockwise_4bit(x.data(), out * in, type, {blocksize, double_quant, 256});
  if (type == fq::FourBitType::kFp4) {
    for (uint8_t& byte : c.weight.blocks.codes) {
      if ((byte >> 4 & 7) == 1) byte &= 0x8F;
      if ((byte & 7) == 1) byte &= 0xF8;
    }
  }
  return c;
}

std::vector<BnbCase> all_cases() {
  return {make_case(fq::FourBitType::kNf4, true, 64, 64, 300, "bfloat16", 1),  // 300 blocks: two nested blocks
          make_case(fq::FourBitType::kNf4, false, 64, 16, 40, "float16", 2),
          make_case(fq::FourBitType::kNf4, true, 32, 3, 21, "float32", 3),     // odd count, short last block
          make_case(fq::FourBitType::kFp4, true, 64, 32, 64, "bfloat16", 4),
          make_case(fq::FourBitType::kFp4, false, 128, 5, 77, "float16", 5),
          make_case(fq::FourBitType::kBnbFp4, true, 64, 5, 77, "bfloat16", 12),  // odd n = 385, 1/192 codes kept
          make_case(fq::FourBitType::kBnbFp4, false, 32, 3, 21, "float32", 13)};
}

double fp4_option(fq::FourBitType type) {
  return type == fq::FourBitType::kNf4 ? 0 : type == fq::FourBitType::kFp4 ? 1 : 2;
}

std::string case_id(size_t k) {
  std::string id = "c";
  id += std::to_string(k);
  return id;
}

TensorFile request_of(const std::vector<BnbCase>& cases) {
  TensorFile request;
  for (size_t k = 0; k < cases.size(); ++k) {
    const hq::Bnb4BitWeight& w = cases[k].weight;
    const hq::BnbOptions& o = cases[k].options;
    const fq::Blockwise4Bit& q = w.blocks;
    const std::string id = case_id(k);
    const double dtype = o.dtype == "float16" ? 0 : o.dtype == "bfloat16" ? 1 : 2;
    request.put_text(id + ".layout", "bitsandbytes");
    request.put_text(id + ".name", w.name);
    request.put(id + ".options", {6}, {fp4_option(q.type), double(o.double_quant),
                                       double(o.blocksize), double(w.out), double(w.in), dtype});
    std::vector<double> codes;
    for (int64_t i = 0; i < q.numel; ++i) codes.push_back(i % 2 == 0 ? q.codes[i / 2] >> 4 : q.codes[i / 2] & 15);
    request.put(id + ".codes", {q.numel}, codes);
    if (o.double_quant) {
      request.put(id + ".absmax_codes", {q.blocks()}, {q.absmax_codes.begin(), q.absmax_codes.end()});
      request.put(id + ".nested_absmax", {static_cast<int64_t>(q.nested_absmax.size())},
                  {q.nested_absmax.begin(), q.nested_absmax.end()});
      request.put(id + ".offset", {1}, {q.offset});
    } else {
      request.put(id + ".absmax", {q.blocks()}, {q.absmax.begin(), q.absmax.end()});
    }
  }
  return request;
}

std::vector<std::byte> reference_bytes(const qforge::testing::TensorRecord& r, const std::string& dtype) {
  const size_t width = dtype == "U8" ? 1 : 4;
  std::vector<std::byte> out;
  for (double v : r.values) {
    const auto bits = static_cast<uint64_t>(v);
    for (size_t b = 0; b < width; ++b) out.push_back(static_cast<std::byte>((bits >> (8 * b)) & 0xFF));
  }
  return out;
}

// Every tensor, the config and the dequantization of `c` against the reference's answer for `id`.
void expect_reference(const BnbCase& c, const TensorFile& answer, const std::string& id) {
  const std::vector<hq::FileTensor> tensors = hq::pack_bnb_4bit(c.weight, c.options);
  std::vector<std::string> names;
  for (const hq::FileTensor& t : tensors) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  std::string joined;
  for (const std::string& n : names) joined += (joined.empty() ? "" : "\n") + n;
  ASSERT_EQ(joined, answer.text(id + ".tensors"));
  for (const hq::FileTensor& t : tensors) {
    const std::string key = id + "/" + t.name;
    EXPECT_EQ(st::dtype_name(t.dtype), answer.text(key + ".dtype")) << key;
    EXPECT_EQ(t.shape, answer.tensor(key).dims) << key;
    EXPECT_TRUE(t.data == reference_bytes(answer.tensor(key), st::dtype_name(t.dtype))) << key;
  }
  EXPECT_EQ(nlohmann::json::parse(hq::bnb_4bit_config(c.options)), nlohmann::json::parse(answer.text(id + ".config")));
  const std::vector<float> ours = hq::dequantize_bnb_4bit(hq::unpack_bnb_4bit(c.weight.name, by_name(tensors)));
  const qforge::testing::TensorRecord& expected = answer.tensor(id + ".dequant");
  ASSERT_EQ(ours.size(), expected.values.size());
  int64_t differing = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    differing += std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(static_cast<float>(expected.values[i]));
  }
  EXPECT_EQ(differing, 0) << "dequantized elements differing from bitsandbytes' formula";
}

TEST(HfQuantBitsandbytes, TensorsJsonConfigAndDequantMatchNumpy) {
  const std::vector<BnbCase> cases = all_cases();
  const TensorFile answer = qforge::testing::run_torch_script("tests/exporters/hf_quant_reference.py",
                                                              request_of(cases), "hf_quant_bnb");
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(case_id(k));
    expect_reference(cases[k], answer, case_id(k));
  }
}

// Weights with every pivot of dQuantizeFP4 hit exactly (a block whose absmax is 1, so x * (1 / absmax) = x),
// the float just above each, -0, tiny negatives, an all-zero block, then normal values.
std::vector<float> fp4_edge_weights(int64_t n, uint32_t seed) {
  const float pivots[7] = {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f};
  std::vector<float> x = {1.0f, -0.0f, -1e-4f, 0.0f};
  for (float p : pivots) x.insert(x.end(), {p, std::nextafter(p, 2.0f), -p, -std::nextafter(p, 2.0f)});
  x.resize(64, 0.5f);
  x.resize(128, 0.0f);  // the second block is all zero
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  while (static_cast<int64_t>(x.size()) < n) x.push_back(normal(rng));
  x.resize(static_cast<size_t>(n));
  return x;
}

// The export's quantization of a float run for bnb-fp4 (quantize_blockwise_4bit with BNB_FP4) gives the
// bytes numpy's quantize_4bit(quant_type="fp4") gives: odd n, n not a multiple of the block, two nested
// blocks of 256 absmax.
TEST(HfQuantBitsandbytes, Fp4QuantizedFromFloatsMatchesNumpy) {
  struct Shape { int64_t out, in, blocksize; bool double_quant; };
  const Shape shapes[] = {{7, 33, 64, true}, {5, 77, 32, false}, {129, 131, 64, true}, {2, 64, 64, true}};
  TensorFile request;
  std::vector<BnbCase> cases;
  for (size_t k = 0; k < std::size(shapes); ++k) {
    const Shape& s = shapes[k];
    const std::vector<float> x = fp4_edge_weights(s.out * s.in, 20 + static_cast<uint32_t>(k));
    BnbCase c;
    c.options = {fq::FourBitType::kBnbFp4, s.double_quant, s.blocksize, "bfloat16", {"lm_head"}};
    c.weight = {"model.layers.0.self_attn.q_proj", s.out, s.in,
                fq::quantize_blockwise_4bit(x.data(), s.out * s.in, fq::FourBitType::kBnbFp4, {s.blocksize, s.double_quant, 256})};
    const std::string id = case_id(k);
    request.put_text(id + ".layout", "bitsandbytes_fp4_quantize");
    request.put_text(id + ".name", c.weight.name);
    request.put(id + ".options", {5}, {double(s.double_quant), double(s.blocksize), double(s.out), double(s.in), 1});
    request.put(id + ".x", {s.out * s.in}, {x.begin(), x.end()});
    cases.push_back(std::move(c));
  }
  const TensorFile answer = qforge::testing::run_torch_script("tests/exporters/hf_quant_reference.py", request, "hf_quant_bnb_fp4");
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(case_id(k));
    expect_reference(cases[k], answer, case_id(k));
  }
  // The pivots really were hit: element 4 (the first pivot) is code 0, element 5 (just above) is 1/192.
  EXPECT_EQ(cases[3].weight.blocks.codes[2], 0x01);
}

// quantization_config -> --quant row: bitsandbytes 4-bit by bnb_4bit_quant_type (absent = fp4, transformers'
// default), refused naming the key otherwise.
TEST(HfQuantBitsandbytes, ConfigNamesTheRow) {
  namespace hf = qforge::exporters::hf;
  const auto row = [](const char* json) { return std::string(hf::hf_quant_format_for_config(nlohmann::json::parse(json)).name); };
  EXPECT_EQ(row(R"({"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "nf4"})"), "bnb-nf4");
  EXPECT_EQ(row(R"({"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "fp4"})"), "bnb-fp4");
  EXPECT_EQ(row(R"({"quant_method": "bitsandbytes", "load_in_4bit": true})"), "bnb-fp4");
  EXPECT_EQ(row(R"({"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": null})"), "bnb-fp4");
  EXPECT_EQ(row(R"({"quant_method": "bitsandbytes", "load_in_8bit": true, "load_in_4bit": false})"), "bnb-int8");
  try {
    row(R"({"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "int4"})");
    ADD_FAILURE() << "int4 was read";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("key 'bnb_4bit_quant_type': \"int4\" is not read for quant_method \"bitsandbytes\""),
                                HasSubstr("load_in_4bit true and bnb_4bit_quant_type fp4 (or absent): bnb-fp4")));
  }
  EXPECT_EQ(hf::hf_quant_format("bnb-fp4").layout, "fp4");
  EXPECT_THAT(hf::hf_quant_help(), HasSubstr("bnb-fp4: bitsandbytes FP4"));
}

TEST(HfQuantBitsandbytes, RoundTripKeepsEveryField) {
  for (const BnbCase& c : all_cases()) {
    const hq::Bnb4BitWeight back = hq::unpack_bnb_4bit(c.weight.name, by_name(hq::pack_bnb_4bit(c.weight, c.options)));
    const fq::Blockwise4Bit &a = c.weight.blocks, &b = back.blocks;
    EXPECT_EQ(back.out, c.weight.out);
    EXPECT_EQ(back.in, c.weight.in);
    // An fp4 file reads back as bitsandbytes' own codes (BNB_FP4), qforge's FP4 codes remapped.
    EXPECT_EQ(b.type, a.type == fq::FourBitType::kFp4 ? fq::FourBitType::kBnbFp4 : a.type);
    EXPECT_EQ(b.numel, a.numel);
    EXPECT_EQ(b.block_size, a.block_size);
    EXPECT_EQ(b.double_quant, a.double_quant);
    if (a.type != fq::FourBitType::kFp4) {
      EXPECT_EQ(b.codes, a.codes);
    }
    EXPECT_EQ(b.absmax, a.absmax);
    EXPECT_EQ(b.absmax_codes, a.absmax_codes);
    EXPECT_EQ(b.nested_absmax, a.nested_absmax);
    EXPECT_EQ(std::bit_cast<uint32_t>(b.offset), std::bit_cast<uint32_t>(a.offset));
    // qforge's own decoding of the packed and of the unpacked blocks agree with bitsandbytes' (FP4's -0 = +0).
    std::vector<float> mine(static_cast<size_t>(b.numel)), unpacked(mine.size());
    fq::dequantize_blockwise_4bit_reference(a, 0, a.numel, mine.data());
    fq::dequantize_blockwise_4bit_reference(b, 0, b.numel, unpacked.data());
    EXPECT_EQ(mine, unpacked);
    const std::vector<float> theirs = hq::dequantize_bnb_4bit(back);
    for (size_t i = 0; i < mine.size(); ++i) ASSERT_EQ(mine[i], theirs[i]) << i;
  }
}

TEST(HfQuantBitsandbytes, QuantStateJsonAndFloatRepr) {
  BnbCase c = make_case(fq::FourBitType::kNf4, true, 64, 2, 64, "bfloat16", 9);
  c.weight.blocks.offset = 0.1f;
  EXPECT_EQ(hq::bnb_quant_state_json(c.weight, c.options),
            R"({"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [2, 64], "nested_blocksize": 256, )"
            R"("nested_dtype": "float32", "nested_offset": 0.10000000149011612})");
  // Python repr(float): shortest round trip, exponent form below 1e-4 and from 1e16.
  EXPECT_EQ(hq::python_float_repr(0.0), "0.0");
  EXPECT_EQ(hq::python_float_repr(2.0), "2.0");
  EXPECT_EQ(hq::python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(hq::python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(hq::python_float_repr(1234.5), "1234.5");
  EXPECT_EQ(hq::python_float_repr(1e15), "1000000000000000.0");
  EXPECT_EQ(hq::python_float_repr(1e16), "1e+16");
  EXPECT_EQ(hq::python_float_repr(-1.5e-7), "-1.5e-07");
  EXPECT_EQ(hq::python_float_repr(123456789012345678.0), "1.2345678901234568e+17");
}

TEST(HfQuantBitsandbytes, ErrorsNameTheTensor) {
  const auto pack_error = [](const BnbCase& c) {
    try {
      hq::pack_bnb_4bit(c.weight, c.options);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  BnbCase fp4 = make_case(fq::FourBitType::kFp4, true, 64, 4, 64, "float16", 6);
  fp4.weight.blocks.codes[3] = 0x19;  // element 6 = code 1: E2M1's subnormal
  EXPECT_THAT(pack_error(fp4), AllOf(HasSubstr(fp4.weight.name), HasSubstr("FP4 element 6"), HasSubstr("subnormal")));
  BnbCase mismatch = make_case(fq::FourBitType::kNf4, true, 64, 4, 64, "float16", 7);
  mismatch.options.blocksize = 128;
  EXPECT_THAT(pack_error(mismatch), AllOf(HasSubstr(mismatch.weight.name), HasSubstr("block size 64")));
  mismatch = make_case(fq::FourBitType::kNf4, true, 64, 4, 64, "half", 7);
  EXPECT_THAT(pack_error(mismatch), AllOf(HasSubstr(mismatch.weight.name), HasSubstr("dtype 'half'")));
  mismatch = make_case(fq::FourBitType::kNf4, true, 64, 4, 64, "float16", 7);
  mismatch.weight.out = 5;
  EXPECT_THAT(pack_error(mismatch), AllOf(HasSubstr(mismatch.weight.name), HasSubstr("256 elements for a [5, 64]")));

  const BnbCase good = make_case(fq::FourBitType::kNf4, true, 64, 4, 64, "float16", 8);
  const std::string p = good.weight.name + ".weight";
  const auto unpack_error = [&](hq::FileTensors file) {
    try {
      hq::unpack_bnb_4bit(good.weight.name, file);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  hq::FileTensors file = by_name(hq::pack_bnb_4bit(good.weight, good.options));
  hq::FileTensors changed = file;
  changed.at(p + ".quant_map").data[0] = std::byte{1};
  EXPECT_THAT(unpack_error(changed), HasSubstr(p + ".quant_map: not bitsandbytes' table"));
  changed = file;
  changed.erase(p + ".nested_absmax");
  EXPECT_THAT(unpack_error(changed), HasSubstr(p + ".nested_absmax: tensor missing"));
  changed = file;
  changed.erase(p + ".quant_state.bitsandbytes__nf4");
  EXPECT_THAT(unpack_error(changed), HasSubstr(p + ".quant_state.bitsandbytes__nf4: tensor missing"));
}

TEST(HfQuantBitsandbytes, PackedQloraWeightThroughTheAdapter) {
  const BnbCase c = make_case(fq::FourBitType::kNf4, true, 64, 12, 80, "bfloat16", 11);
  const fq::Packed4BitWeight packed(c.weight.blocks, 12, 80);
  const hq::Bnb4BitWeight w = hq::bnb_4bit_weight("model.layers.2.self_attn.k_proj.weight", packed);
  EXPECT_EQ(w.name, "model.layers.2.self_attn.k_proj");
  std::vector<float> expected(12 * 80);
  packed.dequantize_rows(0, 12, expected.data());
  const std::vector<float> back = hq::dequantize_bnb_4bit(hq::unpack_bnb_4bit(w.name, by_name(hq::pack_bnb_4bit(w, c.options))));
  ASSERT_EQ(back.size(), expected.size());
  for (size_t i = 0; i < back.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(expected[i])) << i;
  }
}

TEST(HfQuantBitsandbytes, ConfigReadsBack) {
  for (bool dq : {false, true}) {
    const hq::BnbOptions o{fq::FourBitType::kBnbFp4, dq, 64, "float16", {"lm_head", "model.embed_tokens"}};
    const hq::BnbOptions back = hq::bnb_4bit_options(hq::bnb_4bit_config(o));
    EXPECT_EQ(back.type, o.type);
    EXPECT_EQ(back.double_quant, o.double_quant);
    EXPECT_EQ(back.dtype, o.dtype);
    EXPECT_EQ(back.skip_modules, o.skip_modules);
  }
  EXPECT_THROW(hq::bnb_4bit_options(R"({"quant_method": "bitsandbytes", "load_in_8bit": true})"), std::invalid_argument);
}

}  // namespace
