#pragma once
// PackedWeight: a frozen weight matrix [rows, cols] that exists only in a packed number format
// (NF4 with double quantization, FP4, the GGUF block types, ...). It is the base of QLoRA-style
// fine-tuning (Dettmers et al. 2023, §3): the base model stays in 4 bits and never gets an FP32
// copy; ops dequantize a tile of rows at a time inside forward and backward.
//
// The interface lives in autograd because packed_matmul (autograd/ops.h) consumes it; the
// formats themselves live in fakequant/ and only implement it.
#include <cstdint>
#include <memory>
#include <string>

namespace qforge::autograd {

class PackedWeight {
 public:
  virtual ~PackedWeight() = default;
  /// Output features (rows of W [out, in]).
  virtual int64_t rows() const = 0;
  /// Input features (columns of W).
  virtual int64_t cols() const = 0;
  /// Format name as the CLI spells it: "nf4", "fp4", "q4_K", "q8_0", ...
  virtual std::string format() const = 0;
  /// Bytes held for codes and every level of scales (what the format costs in memory).
  virtual int64_t storage_bytes() const = 0;
  /// Writes rows [row_begin, row_end) dequantized to FP32, row-major, into `out`
  /// ((row_end - row_begin) * cols() floats). Thread-safe: concurrent calls on disjoint or
  /// overlapping ranges are allowed (no mutable state).
  virtual void dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const = 0;
};

using PackedWeightPtr = std::shared_ptr<const PackedWeight>;

}  // namespace qforge::autograd
