#pragma once
// Which scale (and zero point) each element of a contiguous tensor uses, for every granularity of
// GranularitySpec. Internal to fakequant/: shared by int_quantizer.cpp and the FakeQuant op.
#include <cstdint>

#include "autograd/shape.h"
#include "fakequant/int_quantizer.h"

namespace qforge::fakequant {

// Element i of a contiguous tensor uses parameter (i / inner) % count; this covers all three
// granularities: per tensor (inner = numel, count = 1), per channel along `axis` (inner = product
// of the later dimensions, count = dim(axis)) and per group (inner = group_size, count = numel / group_size).
// The tensor is thus outer x count x inner, with outer = numel / (count * inner).
struct ParamLayout {
  int64_t inner = 1;
  int64_t count = 1;
  int64_t index(int64_t element) const { return (element / inner) % count; }
  int64_t outer(int64_t numel) const { return count * inner == 0 ? 0 : numel / (count * inner); }
};

// Throws std::invalid_argument naming `op`, the axis or group size and the shape when `spec` does
// not fit `shape`.
ParamLayout layout_of(const autograd::Shape& shape, const GranularitySpec& spec, const char* op);

}  // namespace qforge::fakequant
