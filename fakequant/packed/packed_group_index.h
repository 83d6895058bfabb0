#pragma once
// PackedWeight over integer codes with a scale and zero point per (row, group) and a group per column
// (fakequant::GroupIndexState, group_index_weight.h): W[r, c] = scales[r, g_idx[c]] · (q[r, c] − zeros[r, g_idx[c]])
// in float32, GPTQ's dequantization (docs/hf-quantized.md §1, docs/gptq.md §3). It holds a Hugging Face GPTQ /
// AWQ / compressed-tensors Linear as a frozen QLoRA base in its own codes, never re-quantized
// (exporters/hf/hf_quant_import.h); contiguous groups are g_idx[c] = c / group_size. Codes are kept as one
// LSB-first bit stream per row (bits per code), as GPTQ packs a column. 4-bit rows decode 16 columns per
// AVX-512 step (a QLoRA base is decoded at every forward and backward; packed_group_index.cpp).
#include <cstdint>
#include <vector>

#include "autograd/packed_weight.h"
#include "fakequant/group_index_weight.h"

namespace qforge::fakequant {

class PackedGroupIndexWeight final : public autograd::PackedWeight {
 public:
  /// `codes`: rows · cols values in 0 .. 2^bits − 1, row-major. std::invalid_argument naming the field when
  /// `state` fails validate() or a code is off the grid.
  PackedGroupIndexWeight(GroupIndexState state, const std::vector<int64_t>& codes);
  int64_t rows() const override { return state_.rows; }
  int64_t cols() const override { return state_.cols; }
  /// "int4:g128" (qforge's scheme spelling).
  std::string format() const override;
  int64_t storage_bytes() const override;
  void dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const override;
  /// The representation, for exporters: scales, zero points, g_idx, and every code.
  const GroupIndexState& state() const { return state_; }
  std::vector<int64_t> codes() const;

 private:
  int64_t code(int64_t row, int64_t col) const;
  GroupIndexState state_;
  int64_t row_words_ = 0;
  std::vector<uint32_t> words_;  // rows · row_words_
  // The decode's copies of the state: g_idx as int32 (gather indices), zero points as floats (exact:
  // integers below 2^8), and whether every group is contiguous (g_idx[c] = c / group_size).
  std::vector<int32_t> g_idx32_;
  std::vector<float> zeros_f_;
  bool contiguous_ = true;
};

}  // namespace qforge::fakequant
