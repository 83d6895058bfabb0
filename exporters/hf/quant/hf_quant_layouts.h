#pragma once
// The table of Hugging Face quantized weight layouts of integer codes qforge writes, one row per layout
// (docs/hf-quantized.md §2-§4, §8): the packer from qforge's integer representation to the file tensors,
// the unpacker back, and the quantization_config object a loader reads, plus its parser. A new layout
// is one file with its four functions and one row.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"

namespace qforge::exporters::hf::quant {

struct HfQuantLayout {
  const char* name;          // "gptq", "awq", "compressed-tensors", "w8a8-int8"
  const char* quant_method;  // quantization_config.quant_method
  uint32_t bits_mask;        // bit b set: b-bit codes can be stored
  // The tensors of one weight, named "<w.name>.<suffix>". Throws std::invalid_argument naming the
  // weight when it fails validate(), disagrees with `options`, or cannot be stored in this layout.
  std::vector<FileTensor> (*pack)(const GroupedIntWeight& w, const HfQuantOptions& options);
  // The weight with module prefix `prefix` from `tensors` (g_idx always filled). Throws
  // std::invalid_argument naming the tensor when one is missing or has the wrong dtype or shape.
  GroupedIntWeight (*unpack)(const std::string& prefix, const FileTensors& tensors, const HfQuantOptions& options);
  // config.json's "quantization_config" object as JSON text.
  std::string (*config)(const HfQuantOptions& options);
  // The options a quantization_config describes (scale dtype: F16; the unpackers read it from the file).
  // Throws std::invalid_argument naming the key on a config this layout cannot read.
  HfQuantOptions (*options_from_config)(const std::string& config_json);

  bool supports_bits(int bits) const { return bits >= 0 && bits < 32 && ((bits_mask >> bits) & 1u); }
};

std::span<const HfQuantLayout> hf_quant_layouts();
// Throws std::invalid_argument listing the names when `name` is not a layout.
const HfQuantLayout& hf_quant_layout(std::string_view name);

// The per-layout functions of the table (gptq_layout.cpp, awq_layout.cpp, compressed_tensors_layout.cpp,
// compressed_tensors_int8_layout.cpp).
std::vector<FileTensor> pack_gptq(const GroupedIntWeight& w, const HfQuantOptions& options);
GroupedIntWeight unpack_gptq(const std::string& prefix, const FileTensors& tensors, const HfQuantOptions& options);
std::string gptq_config(const HfQuantOptions& options);
HfQuantOptions gptq_options(const std::string& config_json);

std::vector<FileTensor> pack_awq(const GroupedIntWeight& w, const HfQuantOptions& options);
GroupedIntWeight unpack_awq(const std::string& prefix, const FileTensors& tensors, const HfQuantOptions& options);
std::string awq_config(const HfQuantOptions& options);
HfQuantOptions awq_options(const std::string& config_json);

std::vector<FileTensor> pack_compressed_tensors(const GroupedIntWeight& w, const HfQuantOptions& options);
GroupedIntWeight unpack_compressed_tensors(const std::string& prefix, const FileTensors& tensors,
                                          const HfQuantOptions& options);
std::string compressed_tensors_config(const HfQuantOptions& options);
HfQuantOptions compressed_tensors_options(const std::string& config_json);

// compressed-tensors int-quantized, W8A8 (compressed_tensors_int8_layout.cpp): 8-bit, one group per row.
std::vector<FileTensor> pack_w8a8_int8(const GroupedIntWeight& w, const HfQuantOptions& options);
GroupedIntWeight unpack_w8a8_int8(const std::string& prefix, const FileTensors& tensors, const HfQuantOptions& options);
std::string w8a8_int8_config(const HfQuantOptions& options);
HfQuantOptions w8a8_int8_options(const std::string& config_json);

// Options a layout can describe: bits supported, group size -1 or positive (W8A8: -1 only), F16 scales
// unless the layout stores others (compressed-tensors: the model's dtype), act-order only where g_idx can
// be stored. std::invalid_argument naming the layout.
void check_options(const HfQuantLayout& layout, const HfQuantOptions& options);
// Checks every packer makes first: check_options; validate(w); bits supported by `layout` and equal to options.bits;
// group size equal to options.group_size (-1: w.group_size == w.in); options.symmetric -> every zero
// is 2^(bits-1); !options.act_order -> contiguous groups. Errors name the weight.
void check_weight_for_layout(const HfQuantLayout& layout, const GroupedIntWeight& w, const HfQuantOptions& options);
// Group size of a weight with `in` columns under `options` (-1 -> in).
int64_t group_size_for(const HfQuantOptions& options, int64_t in);

}  // namespace qforge::exporters::hf::quant
