#include "exporters/hf/quant/hf_quant_layouts.h"

#include <iterator>
#include <stdexcept>

namespace qforge::exporters::hf::quant {
namespace {

constexpr uint32_t bits_mask(std::initializer_list<int> bits) {
  uint32_t mask = 0;
  for (int b : bits) mask |= 1u << b;
  return mask;
}

// Bits per layout (docs/hf-quantized.md): GPTQ's packers take 2, 3, 4, 8 (§2); AWQ GEMM is 4-bit only
// (§3); compressed-tensors packs 1..8, but its 3-, 5-, 6- and 7-bit layout changed in 0.17 (dense stream
// instead of 32 / bits values per word), so only the widths both versions agree on are written (§4).
constexpr HfQuantLayout kLayouts[] = {
    {"gptq", "gptq", bits_mask({2, 3, 4, 8}), pack_gptq, unpack_gptq, gptq_config, gptq_options},
    {"awq", "awq", bits_mask({4}), pack_awq, unpack_awq, awq_config, awq_options},
    {"compressed-tensors", "compressed-tensors", bits_mask({2, 4, 8}), pack_compressed_tensors,
     unpack_compressed_tensors, compressed_tensors_config, compressed_tensors_options},
    // compressed-tensors int-quantized (§8): int8 weights per output channel, int8 inputs per token.
    {"w8a8-int8", "compressed-tensors", bits_mask({8}), pack_w8a8_int8, unpack_w8a8_int8, w8a8_int8_config,
     w8a8_int8_options},
};

std::string layout_names() {
  std::string names;
  for (const HfQuantLayout& l : kLayouts) names += std::string(names.empty() ? "" : ", ") + l.name;
  return names;
}

[[noreturn]] void fail(const HfQuantLayout& layout, const GroupedIntWeight& w, const std::string& what) {
  throw std::invalid_argument(w.name + ": " + layout.name + " " + what);
}

void check_zeros_symmetric(const HfQuantLayout& layout, const GroupedIntWeight& w) {
  const int32_t mid = 1 << (w.bits - 1);
  for (size_t p = 0; p < w.zeros.size(); ++p) {
    if (w.zeros[p] != mid) {
      fail(layout, w, "symmetric: zero point " + std::to_string(w.zeros[p]) + " at row " +
                          std::to_string(p / w.groups()) + ", group " + std::to_string(p % w.groups()) + " is not " +
                          std::to_string(mid));
    }
  }
}

}  // namespace

std::span<const HfQuantLayout> hf_quant_layouts() { return kLayouts; }

const HfQuantLayout& hf_quant_layout(std::string_view name) {
  for (const HfQuantLayout& l : kLayouts) {
    if (name == l.name) return l;
  }
  throw std::invalid_argument("hf quant: unknown layout '" + std::string(name) + "' (known: " + layout_names() + ")");
}

int64_t group_size_for(const HfQuantOptions& options, int64_t in) {
  return options.group_size == -1 ? in : options.group_size;
}

void check_options(const HfQuantLayout& layout, const HfQuantOptions& options) {
  const std::string prefix = std::string(layout.name) + ": ";
  if (!layout.supports_bits(options.bits)) {
    throw std::invalid_argument(prefix + "cannot store " + std::to_string(options.bits) + "-bit codes");
  }
  if (options.group_size != -1 && options.group_size <= 0) {
    throw std::invalid_argument(prefix + "group size " + std::to_string(options.group_size) + " (expected -1 or > 0)");
  }
  const bool compressed_tensors = std::string_view(layout.quant_method) == "compressed-tensors";
  if (!compressed_tensors && options.scale_dtype != ScaleDtype::kF16) {
    throw std::invalid_argument(prefix + "stores F16 scales only");
  }
  const bool w8a8 = std::string_view(layout.name) == "w8a8-int8";
  if ((std::string_view(layout.name) == "awq" || w8a8) && options.act_order) {
    throw std::invalid_argument(prefix + "has no g_idx, so no act-order");
  }
  if (w8a8 && options.group_size != -1) {
    throw std::invalid_argument(prefix + "stores one scale per output channel (group size -1), not groups of " +
                                std::to_string(options.group_size));
  }
  if (!std::string_view(layout.name).starts_with("gptq") && options.gptq_v2) {
    throw std::invalid_argument(prefix + "gptq_v2 is a GPTQ checkpoint format");
  }
}

void check_weight_for_layout(const HfQuantLayout& layout, const GroupedIntWeight& w, const HfQuantOptions& options) {
  validate(w);
  if (!layout.supports_bits(w.bits)) fail(layout, w, "cannot store " + std::to_string(w.bits) + "-bit codes");
  if (w.bits != options.bits) {
    fail(layout, w, "weight has " + std::to_string(w.bits) + "-bit codes, the config says " +
                        std::to_string(options.bits));
  }
  try {
    check_options(layout, options);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(w.name + ": " + e.what());
  }
  if (w.group_size != group_size_for(options, w.in)) {
    fail(layout, w, "weight has group size " + std::to_string(w.group_size) + ", the config says " +
                        std::to_string(options.group_size));
  }
  if (options.symmetric) check_zeros_symmetric(layout, w);
  if (!options.act_order && !has_contiguous_groups(w)) {
    fail(layout, w, "weight has an act-order g_idx but the config has no act-order");
  }
}

}  // namespace qforge::exporters::hf::quant
