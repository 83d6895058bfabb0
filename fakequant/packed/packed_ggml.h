#pragma once
// PackedWeight over the bytes of any ggml block type (fakequant/formats/ggml/block_types.h): Q8_0,
// Q5_0, Q4_K, Q6_K, IQ4_NL, F16, BF16, F32. The bytes are the tensor data exactly as a GGUF file
// stores it (docs/gguf.md §6: W [rows, cols] = ne [cols, rows], each row a whole number of blocks), so a
// base model read from GGUF is used without re-quantization. Decoding goes through the registry's
// dequantize_row: the same codec the exporter and the reader use.
#include <cstdint>
#include <vector>

#include "autograd/packed_weight.h"
#include "fakequant/formats/ggml/block_types.h"

namespace qforge::fakequant {

class PackedGgmlWeight final : public autograd::PackedWeight {
 public:
  /// Throws std::invalid_argument when cols is not a multiple of the block size or bytes.size() !=
  /// rows * row_bytes(type, cols); `tensor_name` only labels the error.
  PackedGgmlWeight(const ggml::BlockType& type, std::vector<uint8_t> bytes, int64_t rows, int64_t cols,
                   const std::string& tensor_name = "tensor");
  int64_t rows() const override { return rows_; }
  int64_t cols() const override { return cols_; }
  /// ggml's spelling: "q4_K", "q8_0", "f16", ...
  std::string format() const override { return type_->name; }
  int64_t storage_bytes() const override { return static_cast<int64_t>(bytes_.size()); }
  void dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const override;
  const ggml::BlockType& block_type() const { return *type_; }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  const ggml::BlockType* type_;
  std::vector<uint8_t> bytes_;
  int64_t rows_, cols_, row_bytes_;
};

/// GGUF tensor data -> PackedWeight (the bytes are moved, never re-quantized).
autograd::PackedWeightPtr wrap_ggml_weight(const ggml::BlockType& type, std::vector<uint8_t> bytes, int64_t rows,
                                           int64_t cols, const std::string& tensor_name = "tensor");

}  // namespace qforge::fakequant
