#include "ptq/int_grid.h"

#include <stdexcept>

namespace qforge::ptq {

IntGrid int_grid_of(const fakequant::Quantizer& quantizer, const std::string& layer, const std::string& method) {
  const fakequant::QuantizerSpec& s = quantizer.spec();
  const bool integer = s.format == fakequant::ElementFormat::kInt && !s.is_ggml_block() && !s.dynamic_per_token &&
                       !s.block_scales.enabled() && s.scale_dtype == fakequant::ScaleDtype::kFp32;
  const auto& g = s.granularity;
  const bool per_row = g.kind == fakequant::Granularity::kPerChannel && g.axis == 0;
  if (!integer || !(per_row || g.kind == fakequant::Granularity::kPerGroup))
    throw std::invalid_argument("ptq " + method + ": " + layer + ": weight scheme '" + s.describe() +
                                "' is not an integer grid with FP32 scales per output channel or per group");
  return {s.bits, s.symmetric, per_row ? 0 : g.group_size};
}

}  // namespace qforge::ptq
