#pragma once
// Registry of the packed base-weight formats by name: "nf4", "fp4" (blockwise 4-bit with double
// quantization, blockwise_4bit.h) and every ggml block type ("q8_0", "q5_0", "q4_K", "q6_K",
// "iq4_nl", "f16", "bf16", "f32"; block_types.h). Names are case-insensitive.
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/packed_weight.h"
#include "fakequant/formats/blockwise_4bit.h"

namespace qforge::fakequant {

struct PackWeightOptions {
  /// nf4 / fp4 only: block size, double quantization, nested block size.
  Blockwise4BitOptions four_bit;
  /// ggml types only: per-column importance (cols floats, an imatrix row) or nullptr.
  const float* importance = nullptr;
  /// Names the tensor in errors (NaN/inf input, shapes).
  std::string tensor_name = "tensor";
};

/// Quantizes W [rows, cols] (row-major) into `format`. Unknown names throw std::invalid_argument
/// listing packed_weight_formats(); NaN/inf weights throw naming options.tensor_name.
autograd::PackedWeightPtr pack_weight(const std::string& format, const float* w, int64_t rows, int64_t cols,
                                      const PackWeightOptions& options = {});

/// Every name pack_weight accepts, in registry order.
std::vector<std::string> packed_weight_formats();

}  // namespace qforge::fakequant
