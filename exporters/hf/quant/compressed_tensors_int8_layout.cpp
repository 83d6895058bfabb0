// compressed-tensors "int-quantized", llm-compressor's W8A8 int8 (SmoothQuant + GPTQ / RTN) output that
// vLLM loads (docs/hf-quantized.md §8):
//   P.weight             I8 [out, in]       the signed codes q - 128
//   P.weight_scale       F16 / BF16 / F32 [out, 1]
//   P.weight_zero_point  I8 [out, 1]        z - 128; asymmetric only
// Inputs are quantized per token at run time (nothing stored). SmoothQuant's factors are already folded
// into the preceding norm and the weight's columns (ptq/smoothquant.h), so they add no tensors.
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/compressed_tensors_config.h"
#include "exporters/hf/quant/config_keys.h"
#include "exporters/hf/quant/hf_quant_layouts.h"

namespace qforge::exporters::hf::quant {
namespace {

const char* const kName = "w8a8-int8";
constexpr int32_t kOffset = 128;  // unsigned 8-bit code - 128 = the signed int8 compressed-tensors stores

const HfQuantLayout& w8a8() { return hf_quant_layout(kName); }

std::vector<int8_t> signed_codes(const std::vector<int32_t>& unsigned_codes) {
  std::vector<int8_t> out(unsigned_codes.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int8_t>(unsigned_codes[i] - kOffset);
  return out;
}

std::vector<int32_t> unsigned_codes(const std::vector<int8_t>& signed_values) {
  std::vector<int32_t> out(signed_values.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = signed_values[i] + kOffset;
  return out;
}

}  // namespace

std::vector<FileTensor> pack_w8a8_int8(const GroupedIntWeight& w, const HfQuantOptions& options) {
  check_weight_for_layout(w8a8(), w, options);
  std::vector<FileTensor> tensors = {int8_tensor(w.name + ".weight", {w.out, w.in}, signed_codes(w.codes)),
                                     scale_tensor(w.name + ".weight_scale", {w.out, 1}, w.scales, options.scale_dtype)};
  if (!options.symmetric)
    tensors.push_back(int8_tensor(w.name + ".weight_zero_point", {w.out, 1}, signed_codes(w.zeros)));
  return tensors;
}

GroupedIntWeight unpack_w8a8_int8(const std::string& prefix, const FileTensors& tensors,
                                  const HfQuantOptions& options) {
  check_options(w8a8(), options);
  GroupedIntWeight w;
  w.name = prefix;
  w.bits = 8;
  const FileTensor& weight = expect_tensor(tensors, prefix + ".weight", Dtype::kI8, {-1, -1});
  w.out = weight.shape[0];
  w.in = weight.shape[1];
  w.group_size = w.in;
  w.codes = unsigned_codes(int8_of(weight));
  w.scales = scales_of(expect_scales(tensors, prefix + ".weight_scale", {w.out, 1}, /*allow_f32=*/true));
  w.zeros.assign(static_cast<size_t>(w.out), kOffset);
  if (!options.symmetric) {
    w.zeros = unsigned_codes(int8_of(expect_tensor(tensors, prefix + ".weight_zero_point", Dtype::kI8, {w.out, 1})));
  } else if (tensors.count(prefix + ".weight_zero_point") != 0) {
    throw std::invalid_argument(prefix + ".weight_zero_point: present, but the config says symmetric");
  }
  w.g_idx.assign(static_cast<size_t>(w.in), 0);
  validate(w);
  return w;
}

std::string w8a8_int8_config(const HfQuantOptions& options) {
  check_options(w8a8(), options);
  const CtQuantArgs weights{8, "int", options.symmetric, "channel", std::nullopt, false, std::nullopt};
  const CtQuantArgs inputs{8, "int", true, "token", std::nullopt, true, std::nullopt};
  return ct_config("int-quantized", ct_quant_args_json(weights), ct_quant_args_json(inputs), options.ignore);
}

HfQuantOptions w8a8_int8_options(const std::string& config_json) {
  const std::string layout = kCompressedTensors;
  const nlohmann::json c = parse_config(config_json, layout);
  const nlohmann::json group = ct_single_group(c, "int-quantized");
  const nlohmann::json weights = ct_args_of(group, "weights");
  if (weights.is_null()) throw std::invalid_argument(layout + " quantization_config: key 'weights' missing");
  expect_config_string(weights, "type", "int", layout);
  expect_config_string(weights, "strategy", "channel", layout);
  HfQuantOptions o;
  o.bits = config_value<int>(weights, "num_bits", layout);
  o.group_size = -1;
  o.symmetric = config_value_or<bool>(weights, "symmetric", layout, true);
  const nlohmann::json inputs = ct_args_of(group, "input_activations");
  if (!inputs.is_null() && (config_value<std::string>(inputs, "strategy", layout) != "token" ||
                            !config_value_or<bool>(inputs, "dynamic", layout, false))) {
    throw std::invalid_argument(layout +
                                " quantization_config: input_activations are not dynamic per token (static "
                                "input scales are not read)");
  }
  o.ignore = config_value_or<std::vector<std::string>>(c, "ignore", layout, {});
  o.scale_dtype = ScaleDtype::kBF16;  // not in the config: the unpacker reads the file's dtype
  check_options(w8a8(), o);
  return o;
}

}  // namespace qforge::exporters::hf::quant
