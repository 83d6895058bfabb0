#pragma once
// The integer grid a weight quantizer asks for, as the post-training methods that choose weights
// themselves (GPTQ, AWQ) take it: bits, symmetric or not, and the group of input columns sharing a
// scale (0: one scale per output channel). Only integer formats with FP32 scales per output channel or
// per group qualify; anything else is refused naming the layer and the scheme.
#include <cstdint>
#include <string>

#include "fakequant/quantizer.h"

namespace qforge::ptq {

struct IntGrid {
  int bits = 4;
  bool symmetric = true;
  int64_t group_size = 0;  // input columns per scale; 0: one scale per output channel
};

// std::invalid_argument "ptq <method>: <layer>: weight scheme '...' is not an integer grid ..." otherwise.
IntGrid int_grid_of(const fakequant::Quantizer& quantizer, const std::string& layer, const std::string& method);

}  // namespace qforge::ptq
