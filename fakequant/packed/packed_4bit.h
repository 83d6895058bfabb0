#pragma once
// PackedWeight over blockwise NF4 / FP4 codes (fakequant/formats/blockwise_4bit.h): the frozen QLoRA
// base weight. W [rows, cols] is flattened row-major before blocking, as bitsandbytes flattens a
// Linear4bit weight, so blocks may straddle rows when cols is not a multiple of the block size.
#include "autograd/packed_weight.h"
#include "fakequant/formats/blockwise_4bit.h"

namespace qforge::fakequant {

class Packed4BitWeight final : public autograd::PackedWeight {
 public:
  /// Takes codes produced for rows * cols elements (throws std::invalid_argument otherwise).
  Packed4BitWeight(Blockwise4Bit blocks, int64_t rows, int64_t cols);
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  /// "nf4" or "fp4".
  std::string format() const override;
  int64_t storage_bytes() const override { return blocks_.storage_bytes(); }
  void dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const override;
  /// The codes and scales, field for field as bitsandbytes' QuantState (for exporters).
  const Blockwise4Bit& blocks() const { return blocks_; }

 private:
  Blockwise4Bit blocks_;
  int64_t rows_, cols_;
};

}  // namespace qforge::fakequant
