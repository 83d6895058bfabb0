#pragma once
// Internal to fakequant: which scale/zero-point parameter each element of a contiguous tensor uses.
// Shared by the integer quantizer, the tensor codecs and the fake-quant ops so they agree on
// parameter order (a scale's index is what an exporter writes next to the codes).
#include <cstdint>

#include "fakequant/int_quantizer.h"

namespace qforge::fakequant {

// Element i of a contiguous tensor uses parameter (i / inner) % count; this covers all three
// granularities: per tensor (inner = numel, count = 1), per channel along `axis` (inner = product
// of the later dimensions, count = dim(axis)) and per group (inner = group_size, count = numel / group_size).
struct ParamLayout {
  int64_t inner = 1;
  int64_t count = 1;
  int64_t index(int64_t element) const { return (element / inner) % count; }
};

// Throws std::invalid_argument naming `op` and the shape when `spec` does not fit `shape`
// (axis out of range, group size not dividing the last dimension).
ParamLayout layout_of(const Shape& shape, const GranularitySpec& spec, const char* op);

}  // namespace qforge::fakequant
