#include "fakequant/packed/packed_4bit.h"

#include <stdexcept>

namespace qforge::fakequant {

Packed4BitWeight::Packed4BitWeight(Blockwise4Bit blocks, int64_t rows, int64_t cols)
    : blocks_(std::move(blocks)), rows_(rows), cols_(cols) {
  if (rows < 0 || cols < 0 || blocks_.numel != rows * cols) {
    throw std::invalid_argument("Packed4BitWeight: " + std::to_string(blocks_.numel) + " quantized elements != [" +
                                std::to_string(rows) + ", " + std::to_string(cols) + "]");
  }
}

std::string Packed4BitWeight::format() const { return four_bit_type_name(blocks_.type); }

void Packed4BitWeight::dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const {
  if (row_begin < 0 || row_end > rows_ || row_begin > row_end) {
    throw std::out_of_range("Packed4BitWeight::dequantize_rows: rows [" + std::to_string(row_begin) + ", " +
                            std::to_string(row_end) + ") outside [0, " + std::to_string(rows_) + ")");
  }
  dequantize_blockwise_4bit(blocks_, row_begin * cols_, row_end * cols_, out);
}

}  // namespace qforge::fakequant
