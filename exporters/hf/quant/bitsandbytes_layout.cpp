// bitsandbytes Linear4bit serialization (docs/hf-quantized.md §5): QuantState.as_dict(packed=True) names,
// the quant_state JSON of pack_dict_to_tensor, and transformers' BitsAndBytesConfig.
#include "exporters/hf/quant/bitsandbytes_layout.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/config_keys.h"
#include "fakequant/formats/bnb_fp4.h"
#include "fakequant/formats/dynamic_map.h"
#include "fakequant/formats/nf4.h"

namespace qforge::exporters::hf::quant {
namespace {

using fakequant::FourBitType;

constexpr int64_t kNestedBlock = 256;  // quantize_4bit: quantize_blockwise(absmax - offset, blocksize=256)

// qforge FP4 magnitude index (E2M1 / 6: 0, 1/12, 1/6, 1/4, 1/3, 1/2, 2/3, 1) -> bitsandbytes "fp4" low
// bits (0, 1/192, 2/3, 1, 1/3, 1/2, 1/6, 1/4); -1: no equal value. Bit 3 is the sign in both.
constexpr int kFp4ToBnb[8] = {0, -1, 6, 7, 4, 5, 2, 3};

bool block_size_ok(int64_t b) {
  for (int64_t ok = 32; ok <= 4096; ok *= 2) {
    if (b == ok) return true;
  }
  return false;
}

void check_options(const BnbOptions& o, const std::string& name) {
  if (!block_size_ok(o.blocksize)) {
    throw std::invalid_argument(name + ": bitsandbytes block size " + std::to_string(o.blocksize) +
                                " (expected a power of two in 32..4096)");
  }
  if (o.dtype != "float16" && o.dtype != "bfloat16" && o.dtype != "float32") {
    throw std::invalid_argument(name + ": bitsandbytes dtype '" + o.dtype + "' (float16, bfloat16 or float32)");
  }
}

// The stored bitsandbytes code of qforge code `c` of element `index` (NF4 and BNB_FP4 blocks hold them).
uint8_t to_bnb(FourBitType type, uint8_t c, const std::string& name, int64_t index) {
  if (type != FourBitType::kFp4) return c;
  const int low = kFp4ToBnb[c & 7];
  if (low < 0) {
    throw std::invalid_argument(name + ": FP4 element " + std::to_string(index) + " uses qforge's subnormal code (" +
                                "±1/12 of the block absmax), which bitsandbytes' fp4 table does not have");
  }
  return static_cast<uint8_t>((c & 8) | low);
}

// The file's code bytes: both nibbles of every byte, high first (docs/hf-quantized.md §5), FP4 remapped.
std::vector<uint8_t> file_codes(FourBitType type, const std::vector<uint8_t>& bytes, int64_t numel,
                                const std::string& name) {
  if (type != FourBitType::kFp4) return bytes;
  std::vector<uint8_t> out(bytes.size(), 0);
  for (int64_t i = 0; i < numel; ++i) {
    const uint8_t byte = bytes[static_cast<size_t>(i / 2)];
    const uint8_t mapped = to_bnb(type, i % 2 == 0 ? byte >> 4 : byte & 15, name, i);
    out[static_cast<size_t>(i / 2)] |= static_cast<uint8_t>(i % 2 == 0 ? mapped << 4 : mapped);
  }
  return out;
}

std::string type_name(FourBitType type) { return bnb_quant_type(type); }

void check_blocks(const Bnb4BitWeight& w, const BnbOptions& o) {
  const fakequant::Blockwise4Bit& q = w.blocks;
  const auto fail = [&](const std::string& what) { throw std::invalid_argument(w.name + ": bitsandbytes " + what); };
  if (w.out <= 0 || w.in <= 0 || q.numel != w.out * w.in) {
    fail("blocks hold " + std::to_string(q.numel) + " elements for a [" + std::to_string(w.out) + ", " +
         std::to_string(w.in) + "] weight");
  }
  if (type_name(q.type) != type_name(o.type)) {
    fail("quant type " + type_name(q.type) + " but the config says " + type_name(o.type));
  }
  if (q.block_size != o.blocksize) {
    fail("block size " + std::to_string(q.block_size) + " but the config says " + std::to_string(o.blocksize));
  }
  if (q.double_quant != o.double_quant) fail(std::string("double quantization ") + (q.double_quant ? "on" : "off") +
                                              " but the config says " + (o.double_quant ? "on" : "off"));
  if (q.codes.size() != static_cast<size_t>((q.numel + 1) / 2)) fail("code bytes do not match the element count");
  const auto blocks = static_cast<size_t>(q.blocks());
  if (!q.double_quant && q.absmax.size() != blocks) fail("absmax count does not match the block count");
  if (q.double_quant && (q.nested_block_size != kNestedBlock || q.absmax_codes.size() != blocks ||
                         q.nested_absmax.size() != (blocks + kNestedBlock - 1) / kNestedBlock)) {
    fail("double quantization needs one absmax code per block and one nested absmax per 256 blocks");
  }
}

}  // namespace

const std::array<float, 16>& bnb_quant_map(FourBitType type) {
  return type == FourBitType::kNf4 ? fakequant::kNf4Values : fakequant::bnb_fp4_values();
}

std::string bnb_quant_type(FourBitType type) { return type == FourBitType::kNf4 ? "nf4" : "fp4"; }

FourBitType bnb_four_bit_type(const std::string& quant_type) {
  if (quant_type != "nf4" && quant_type != "fp4") {
    throw std::invalid_argument("bitsandbytes quant type \"" + quant_type + "\" (nf4 or fp4)");
  }
  return quant_type == "nf4" ? FourBitType::kNf4 : FourBitType::kBnbFp4;
}

std::string python_float_repr(double value) {
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  char buf[64];
  const auto end = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific).ptr;
  const std::string sci(buf, end);  // [-]d[.ddd]e±XX, the shortest digits that round-trip
  const size_t e = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  const int exponent = std::stoi(sci.substr(e + 1));
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  // Appends only: GCC 12 reports a false -Wrestrict on "literal" + std::string temporaries.
  std::string out = negative ? "-" : "";
  if (decpt <= -4 || decpt > 16) {
    const int shown = std::abs(decpt - 1);
    out += digits[0];
    if (digits.size() > 1) out.append(".").append(digits, 1);
    out.append(decpt - 1 < 0 ? "e-" : "e+").append(shown < 10 ? "0" : "").append(std::to_string(shown));
  } else if (decpt <= 0) {
    out.append("0.").append(static_cast<size_t>(-decpt), '0').append(digits);
  } else if (static_cast<size_t>(decpt) >= digits.size()) {
    out.append(digits).append(static_cast<size_t>(decpt) - digits.size(), '0').append(".0");
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt)).append(".").append(digits, static_cast<size_t>(decpt));
  }
  return out;
}

std::string bnb_quant_state_json(const Bnb4BitWeight& w, const BnbOptions& o) {
  // json.dumps defaults: ", " and ": " separators, keys in insertion order, floats by repr.
  std::string s = "{\"quant_type\": \"" + type_name(o.type) + "\", \"blocksize\": " + std::to_string(o.blocksize) +
                  ", \"dtype\": \"" + o.dtype + "\", \"shape\": [" + std::to_string(w.out) + ", " +
                  std::to_string(w.in) + "]";
  if (o.double_quant) {
    s += ", \"nested_blocksize\": " + std::to_string(kNestedBlock) + ", \"nested_dtype\": \"float32\", \"nested_offset\": " +
         python_float_repr(static_cast<double>(w.blocks.offset));
  }
  return s + "}";
}

std::vector<FileTensor> pack_bnb_4bit(const Bnb4BitWeight& w, const BnbOptions& o) {
  check_options(o, w.name);
  check_blocks(w, o);
  const fakequant::Blockwise4Bit& q = w.blocks;
  const std::string p = w.name + ".weight";
  const std::array<float, 16>& map = bnb_quant_map(o.type);
  std::vector<FileTensor> tensors = {
      uint8_tensor(p, {static_cast<int64_t>(q.codes.size()), 1}, file_codes(q.type, q.codes, q.numel, w.name)),
      o.double_quant ? uint8_tensor(p + ".absmax", {q.blocks()}, q.absmax_codes)
                     : float32_tensor(p + ".absmax", {q.blocks()}, q.absmax),
      float32_tensor(p + ".quant_map", {16}, {map.begin(), map.end()})};
  if (o.double_quant) {
    const std::array<float, 256>& nested = fakequant::dynamic_map();
    tensors.push_back(float32_tensor(p + ".nested_absmax", {static_cast<int64_t>(q.nested_absmax.size())}, q.nested_absmax));
    tensors.push_back(float32_tensor(p + ".nested_quant_map", {256}, {nested.begin(), nested.end()}));
  }
  const std::string json = bnb_quant_state_json(w, o);
  tensors.push_back(uint8_tensor(p + ".quant_state.bitsandbytes__" + type_name(o.type),
                                 {static_cast<int64_t>(json.size())}, std::vector<uint8_t>(json.begin(), json.end())));
  return tensors;
}

namespace {

// The tensor `name` (F32 [count]) must hold `table` bit for bit: the GEMV kernel reads quant_map.
void expect_table(const FileTensors& tensors, const std::string& name, const float* table, int64_t count) {
  const std::vector<float> stored = float32_of(expect_tensor(tensors, name, Dtype::kF32, {count}));
  if (std::memcmp(stored.data(), table, static_cast<size_t>(count) * sizeof(float)) != 0) {
    throw std::invalid_argument(name + ": not bitsandbytes' table");
  }
}

// The quant_state tensor of `weight` ("P.weight.quant_state.bitsandbytes__nf4" or "__fp4") and its type
// (an fp4 file's codes are bitsandbytes' own: BNB_FP4 blocks).
const FileTensor& find_quant_state(const FileTensors& tensors, const std::string& weight, FourBitType& type) {
  const std::string stem = weight + ".quant_state.bitsandbytes__";
  for (FourBitType t : {FourBitType::kNf4, FourBitType::kBnbFp4}) {
    const auto it = tensors.find(stem + type_name(t));
    if (it != tensors.end()) {
      type = t;
      return expect_tensor(tensors, it->first, Dtype::kU8, {-1});
    }
  }
  throw std::invalid_argument(stem + "nf4: tensor missing (nor __fp4)");
}

}  // namespace

Bnb4BitWeight unpack_bnb_4bit(const std::string& prefix, const FileTensors& tensors) {
  const std::string p = prefix + ".weight";
  Bnb4BitWeight w;
  w.name = prefix;
  fakequant::Blockwise4Bit& q = w.blocks;
  const FileTensor& state = find_quant_state(tensors, p, q.type);
  const std::vector<uint8_t> bytes = uint8_of(state);
  const nlohmann::json js = parse_config(std::string(bytes.begin(), bytes.end()), state.name);
  expect_config_string(js, "quant_type", type_name(q.type), state.name);
  const auto shape = config_value<std::vector<int64_t>>(js, "shape", state.name);
  if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0) {
    throw std::invalid_argument(state.name + ": key 'shape' is not a matrix shape");
  }
  w.out = shape[0];
  w.in = shape[1];
  q.numel = w.out * w.in;
  q.block_size = config_value<int64_t>(js, "blocksize", state.name);
  BnbOptions o{q.type, js.contains("nested_offset"), q.block_size, config_value<std::string>(js, "dtype", state.name), {}};
  check_options(o, state.name);
  q.double_quant = o.double_quant;
  q.codes = uint8_of(expect_tensor(tensors, p, Dtype::kU8, {(q.numel + 1) / 2, 1}));
  expect_table(tensors, p + ".quant_map", bnb_quant_map(q.type).data(), 16);
  if (!q.double_quant) {
    q.absmax = float32_of(expect_tensor(tensors, p + ".absmax", Dtype::kF32, {q.blocks()}));
    return w;
  }
  if (config_value<int64_t>(js, "nested_blocksize", state.name) != kNestedBlock) {
    throw std::invalid_argument(state.name + ": key 'nested_blocksize' is not 256");
  }
  expect_config_string(js, "nested_dtype", "float32", state.name);
  q.nested_block_size = kNestedBlock;
  q.offset = static_cast<float>(config_value<double>(js, "nested_offset", state.name));
  q.absmax_codes = uint8_of(expect_tensor(tensors, p + ".absmax", Dtype::kU8, {q.blocks()}));
  q.nested_absmax = float32_of(
      expect_tensor(tensors, p + ".nested_absmax", Dtype::kF32, {(q.blocks() + kNestedBlock - 1) / kNestedBlock}));
  expect_table(tensors, p + ".nested_quant_map", fakequant::dynamic_map().data(), 256);
  return w;
}

std::vector<float> dequantize_bnb_4bit(const Bnb4BitWeight& w) {
  const fakequant::Blockwise4Bit& q = w.blocks;
  const std::array<float, 16>& map = bnb_quant_map(q.type);
  std::vector<float> out(static_cast<size_t>(q.numel));
  for (int64_t i = 0; i < q.numel; ++i) {
    const uint8_t byte = q.codes[static_cast<size_t>(i / 2)];
    const uint8_t code = to_bnb(q.type, i % 2 == 0 ? byte >> 4 : byte & 15, w.name, i);
    out[static_cast<size_t>(i)] = map[code] * fakequant::block_scale(q, i / q.block_size);
  }
  return out;
}

std::string bnb_4bit_config(const BnbOptions& o) {
  check_options(o, "bitsandbytes config");
  nlohmann::json c = {{"quant_method", "bitsandbytes"},
                      {"load_in_4bit", true},
                      {"load_in_8bit", false},
                      {"bnb_4bit_quant_type", type_name(o.type)},
                      {"bnb_4bit_use_double_quant", o.double_quant},
                      {"bnb_4bit_compute_dtype", o.dtype},
                      {"bnb_4bit_quant_storage", "uint8"},
                      {"llm_int8_threshold", 6.0},
                      {"llm_int8_has_fp16_weight", false},
                      {"llm_int8_enable_fp32_cpu_offload", false}};
  c["llm_int8_skip_modules"] = o.skip_modules.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.skip_modules);
  return c.dump(2);
}

BnbOptions bnb_4bit_options(const std::string& config_json) {
  const std::string layout = "bitsandbytes";
  const nlohmann::json c = parse_config(config_json, layout);
  expect_config_string(c, "quant_method", layout, layout);
  if (!config_value_or<bool>(c, "load_in_4bit", layout, false)) {
    throw std::invalid_argument("bitsandbytes quantization_config: key 'load_in_4bit' is not true (LLM.int8() is not read)");
  }
  BnbOptions o;
  const std::string type = config_value_or<std::string>(c, "bnb_4bit_quant_type", layout, "fp4");
  if (type != "nf4" && type != "fp4") {
    throw std::invalid_argument("bitsandbytes quantization_config: key 'bnb_4bit_quant_type' is \"" + type + "\"");
  }
  o.type = bnb_four_bit_type(type);
  o.double_quant = config_value_or<bool>(c, "bnb_4bit_use_double_quant", layout, false);
  o.dtype = config_value_or<std::string>(c, "bnb_4bit_compute_dtype", layout, "float32");
  o.skip_modules = config_value_or<std::vector<std::string>>(c, "llm_int8_skip_modules", layout, {});
  check_options(o, "bitsandbytes quantization_config");
  return o;
}

}  // namespace qforge::exporters::hf::quant
