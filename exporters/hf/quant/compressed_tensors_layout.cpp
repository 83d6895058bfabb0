// compressed-tensors "pack-quantized", as llm-compressor writes GPTQ / W4A16 and vLLM loads it
// (docs/hf-quantized.md §4):
//   P.weight_packed     I32 [out, in * bits / 32]         codes + 2^(bits-1) of each row, LSB-first along `in`
//   P.weight_scale      F16 / BF16 [out, groups]
//   P.weight_shape      I64 [2] = [out, in]
//   P.weight_zero_point I32 [out * bits / 32, groups]         asymmetric only; packed along `out`
//   P.weight_g_idx      I32 [in]                              actorder "group" only
// The library's codes are signed (q in [-2^(b-1), 2^(b-1)), zero point likewise) and it adds 2^(b-1)
// before packing, so the stored fields are exactly qforge's unsigned codes and zeros.
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/compressed_tensors_config.h"
#include "exporters/hf/quant/config_keys.h"
#include "exporters/hf/quant/hf_quant_layouts.h"

namespace qforge::exporters::hf::quant {
namespace {

const char* const kLayout = kCompressedTensors;

const HfQuantLayout& compressed_tensors() { return hf_quant_layout(kLayout); }

// Whole words on both packed axes (docs/hf-quantized.md §4): the library pads a partial word, but vLLM
// sizes weight_packed as [out, in / (32 / b)], and versions up to 0.10 padded the wrong axis when packing
// zero points along `out`.
void check_whole_words(const std::string& name, const char* axis, int64_t count, int bits) {
  const int64_t per_word = 32 / bits;
  if (count % per_word != 0) {
    throw std::invalid_argument(name + ": compressed-tensors packs " + std::to_string(per_word) + " " +
                                std::to_string(bits) + "-bit values per int32 word along " + axis + "; " + axis +
                                " = " + std::to_string(count) + " is not a multiple of " + std::to_string(per_word));
  }
}

}  // namespace

std::vector<FileTensor> pack_compressed_tensors(const GroupedIntWeight& w, const HfQuantOptions& options) {
  check_weight_for_layout(compressed_tensors(), w, options);
  check_whole_words(w.name, "in", w.in, w.bits);
  if (!options.symmetric) check_whole_words(w.name, "out", w.out, w.bits);
  const int64_t groups = w.groups(), row_words = stream_words(w.in, w.bits);
  std::vector<uint32_t> packed(static_cast<size_t>(w.out * row_words));
  for (int64_t o = 0; o < w.out; ++o) pack_stream(&w.codes[o * w.in], 1, w.in, w.bits, &packed[o * row_words], 1);
  std::vector<FileTensor> tensors = {
      words_tensor(w.name + ".weight_packed", {w.out, row_words}, packed),
      scale_tensor(w.name + ".weight_scale", {w.out, groups}, w.scales, options.scale_dtype),
      int64_tensor(w.name + ".weight_shape", {2}, {w.out, w.in})};
  if (!options.symmetric) {
    const int64_t zero_rows = stream_words(w.out, w.bits);
    std::vector<uint32_t> zeros(static_cast<size_t>(zero_rows * groups));
    for (int64_t g = 0; g < groups; ++g) pack_stream(&w.zeros[g], groups, w.out, w.bits, &zeros[g], groups);
    tensors.push_back(words_tensor(w.name + ".weight_zero_point", {zero_rows, groups}, zeros));
  }
  if (options.act_order) {
    std::vector<int32_t> g_idx(static_cast<size_t>(w.in));
    for (int64_t i = 0; i < w.in; ++i) g_idx[i] = w.group_of(i);
    tensors.push_back(int32_tensor(w.name + ".weight_g_idx", {w.in}, g_idx));
  }
  return tensors;
}

GroupedIntWeight unpack_compressed_tensors(const std::string& prefix, const FileTensors& tensors,
                                          const HfQuantOptions& options) {
  check_options(compressed_tensors(), options);
  const std::vector<int64_t> shape = int64_of(expect_tensor(tensors, prefix + ".weight_shape", Dtype::kI64, {2}));
  GroupedIntWeight w;
  w.name = prefix;
  w.bits = options.bits;
  w.out = shape[0];
  w.in = shape[1];
  if (w.out <= 0 || w.in <= 0) throw std::invalid_argument(prefix + ".weight_shape: not a matrix shape");
  w.group_size = group_size_for(options, w.in);
  if (w.in % w.group_size != 0) {
    throw std::invalid_argument(prefix + ".weight_shape: in = " + std::to_string(w.in) +
                                " is not a multiple of group size " + std::to_string(w.group_size));
  }
  check_whole_words(prefix + ".weight_shape", "in", w.in, w.bits);
  if (!options.symmetric) check_whole_words(prefix + ".weight_shape", "out", w.out, w.bits);
  const int64_t groups = w.groups(), row_words = stream_words(w.in, w.bits);
  const std::vector<uint32_t> packed =
      words_of(expect_tensor(tensors, prefix + ".weight_packed", Dtype::kI32, {w.out, row_words}));
  w.codes.resize(static_cast<size_t>(w.out * w.in));
  for (int64_t o = 0; o < w.out; ++o) unpack_stream(&packed[o * row_words], 1, w.in, w.bits, &w.codes[o * w.in], 1);
  w.scales = scales_of(expect_scales(tensors, prefix + ".weight_scale", {w.out, groups}));
  w.zeros.assign(static_cast<size_t>(w.out * groups), 1 << (w.bits - 1));
  if (!options.symmetric) {
    const int64_t zero_rows = stream_words(w.out, w.bits);
    const std::vector<uint32_t> zeros =
        words_of(expect_tensor(tensors, prefix + ".weight_zero_point", Dtype::kI32, {zero_rows, groups}));
    for (int64_t g = 0; g < groups; ++g) unpack_stream(&zeros[g], groups, w.out, w.bits, &w.zeros[g], groups);
  }
  if (options.act_order) {
    w.g_idx = int32_of(expect_tensor(tensors, prefix + ".weight_g_idx", Dtype::kI32, {w.in}));
  } else {
    w.g_idx.resize(static_cast<size_t>(w.in));
    for (int64_t i = 0; i < w.in; ++i) w.g_idx[i] = static_cast<int32_t>(i / w.group_size);
  }
  validate(w);
  return w;
}

std::string compressed_tensors_config(const HfQuantOptions& options) {
  check_options(compressed_tensors(), options);
  const bool channel = options.group_size == -1;
  CtQuantArgs weights{options.bits, "int", options.symmetric, channel ? "channel" : "group", std::nullopt, false,
                      std::nullopt};
  if (!channel) weights.group_size = options.group_size;
  if (options.act_order) weights.actorder = "group";
  return ct_config("pack-quantized", ct_quant_args_json(weights), nullptr, options.ignore);
}

HfQuantOptions compressed_tensors_options(const std::string& config_json) {
  const nlohmann::json c = parse_config(config_json, kLayout);
  const nlohmann::json weights = config_value<nlohmann::json>(ct_single_group(c, "pack-quantized"), "weights", kLayout);
  expect_config_string(weights, "type", "int", kLayout);
  HfQuantOptions o;
  o.bits = config_value<int>(weights, "num_bits", kLayout);
  o.symmetric = config_value_or<bool>(weights, "symmetric", kLayout, true);
  const std::string strategy = config_value<std::string>(weights, "strategy", kLayout);
  if (strategy == "channel") {
    o.group_size = -1;
  } else if (strategy == "group") {
    o.group_size = config_value<int64_t>(weights, "group_size", kLayout);
  } else {
    throw std::invalid_argument(std::string(kLayout) + " quantization_config: key 'strategy' is \"" + strategy +
                                "\"; qforge reads \"group\" and \"channel\"");
  }
  // ActivationOrdering: "group" (alias "dynamic") stores weight_g_idx; "weight" (alias "static") only
  // changes the calibration order, not the format. Old configs wrote true for "group".
  const nlohmann::json actorder = weights.contains("actorder") ? weights.at("actorder") : nlohmann::json(nullptr);
  o.act_order = actorder == "group" || actorder == "dynamic" || actorder == true;
  o.ignore = config_value_or<std::vector<std::string>>(c, "ignore", kLayout, {});
  check_options(compressed_tensors(), o);
  return o;
}

}  // namespace qforge::exporters::hf::quant
