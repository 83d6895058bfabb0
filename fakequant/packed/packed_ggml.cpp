#include "fakequant/packed/packed_ggml.h"

#include <stdexcept>
#include <string>

namespace qforge::fakequant {

PackedGgmlWeight::PackedGgmlWeight(const ggml::BlockType& type, std::vector<uint8_t> bytes, int64_t rows,
                                   int64_t cols, const std::string& tensor_name)
    : type_(&type), bytes_(std::move(bytes)), rows_(rows), cols_(cols), row_bytes_(0) {
  const std::string what = "PackedGgmlWeight: " + tensor_name + " (" + type.name + " [" + std::to_string(rows) +
                           ", " + std::to_string(cols) + "])";
  if (rows < 0 || cols < 0) throw std::invalid_argument(what + ": negative shape");
  if (cols % type.block_elements != 0) {
    throw std::invalid_argument(what + ": cols not a multiple of the block size " +
                                std::to_string(type.block_elements));
  }
  row_bytes_ = ggml::row_bytes(type, cols);
  if (static_cast<int64_t>(bytes_.size()) != rows * row_bytes_) {
    throw std::invalid_argument(what + ": expected " + std::to_string(rows * row_bytes_) + " bytes, got " +
                                std::to_string(bytes_.size()));
  }
}

void PackedGgmlWeight::dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const {
  if (row_begin < 0 || row_end > rows_ || row_begin > row_end) {
    throw std::out_of_range("PackedGgmlWeight::dequantize_rows: rows [" + std::to_string(row_begin) + ", " +
                            std::to_string(row_end) + ") outside [0, " + std::to_string(rows_) + ")");
  }
  // Rows are contiguous whole blocks, so a row range is one run of blocks.
  type_->dequantize_row(bytes_.data() + row_begin * row_bytes_, out, (row_end - row_begin) * cols_);
}

autograd::PackedWeightPtr wrap_ggml_weight(const ggml::BlockType& type, std::vector<uint8_t> bytes, int64_t rows,
                                           int64_t cols, const std::string& tensor_name) {
  return std::make_shared<PackedGgmlWeight>(type, std::move(bytes), rows, cols, tensor_name);
}

}  // namespace qforge::fakequant
