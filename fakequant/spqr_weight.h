#pragma once
// SpQR weights (Dettmers et al. 2023, "SpQR: A Sparse-Quantized Representation for Near-Lossless LLM
// Weight Compression", §3.2-3.3): the weight quantizer a post-training method (ptq/spqr.h) installs on
// a Linear in place of the rules' Quantizer. It holds the whole SpQR representation of the weight, as
// docs/spqr.md §4 lays it out for an exporter (the HF "spqr" format):
//   - a column permutation (act-order): position j of the quantized matrix is input column perm[j];
//   - in the permuted order, groups of beta1 consecutive columns of one row share a scale s and a zero
//     z (not rounded: SpQR's zero is a real number), w = s * (q - z), q a `bits`-bit code;
//   - those first-order statistics are themselves `stat_bits`-bit codes ws, wz, with second-order
//     statistics per tile of beta2 rows x beta1 columns, stored as fp16 values:
//     s = scale_scale * (ws - scale_zero), z = zero_scale * (wz - zero_zero) (float32 arithmetic);
//   - unstructured outliers: single weights kept as fp16 values outside the grid.
// The latent weight of the Linear holds the dequantized weight (outliers included); the forward
// re-derives every code from it (q = clamp(round(w / s + z), 0, 2^bits - 1)) and gives back
// s * (q - z), or the latent value itself at an outlier, so the forward is the SpQR model and the
// codes an exporter writes are those of the forward. No gradient reaches the latent weight: the
// representation is frozen (a post-training result, not a training format).
//
// Everything is saved by checkpoints: int64 buffers "spqr_layout" [rows, cols, bits, beta1, beta2,
// stat_bits], "permutation" [cols], "scale_codes" and "zero_codes" [rows * groups] (row-major, groups
// in the permuted order), "outliers" (ascending flat indices row * cols + column, original column
// order), and the float parameter "second_order" [row_blocks * groups * 4] = per tile (row block major)
// scale_scale, zero_scale, scale_zero, zero_zero (the HF record's order).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace qforge::fakequant {

struct SpqrLayout {
  int64_t rows = 0, cols = 0;
  int bits = 3;           // w: bits of a weight code
  int64_t beta1 = 16;     // columns per first-order group
  int64_t beta2 = 16;     // rows per second-order group
  int stat_bits = 3;      // bits of a scale / zero code
  int64_t groups() const { return (cols + beta1 - 1) / beta1; }
  int64_t row_blocks() const { return (rows + beta2 - 1) / beta2; }
};

struct SpqrState {
  SpqrLayout layout;
  std::vector<int64_t> permutation;              // [cols]
  std::vector<int64_t> scale_codes, zero_codes;  // [rows * groups]
  std::vector<float> second_order;               // [row_blocks * groups * 4], fp16 values
  std::vector<int64_t> outliers;                 // ascending flat indices
};

// First-order scale and zero of (row, group) as the forward uses them (float32, from the codes).
struct SpqrGroupParams {
  float scale, zero;
};
SpqrGroupParams spqr_group_params(const SpqrState& state, int64_t row, int64_t group);
// A code's value: s * (q - z) in float32.
inline float spqr_dequantize(int64_t code, const SpqrGroupParams& p) { return p.scale * (static_cast<float>(code) - p.zero); }
// q = clamp(round(w / max(s, 1e-9) + z), 0, 2^bits - 1), round half to even (the SpQR reference's quantize).
int64_t spqr_code(double w, const SpqrGroupParams& p, int bits);

class SpqrWeightQuantizer : public layers::UnaryModule {
 public:
  // std::invalid_argument naming the inconsistent field (sizes, codes out of range, permutation).
  explicit SpqrWeightQuantizer(const SpqrState& state);
  // x: the latent weight [rows, cols]. Output as the file comment says; no gradient.
  autograd::Variable forward(const autograd::Variable& x) override;
  // The representation as stored (copies of the buffers).
  SpqrState state() const;
  // Codes of every weight of `weight` ([rows, cols], original column order) as the forward derives them.
  std::vector<int64_t> codes(const autograd::Tensor& weight) const;

 private:
  void check() const;
  layers::IntBuffer layout_, permutation_, scale_codes_, zero_codes_, outliers_;
  autograd::Variable second_order_;
};

// A blank quantizer of the sizes saved under `prefix` ("<layer>.weight_quantizer.") for a load to
// fill (fakequant/saved_weight_quantizers.h), or null when `buffers` holds no SpQR layout there.
std::shared_ptr<SpqrWeightQuantizer> saved_spqr_quantizer(const std::string& prefix,
                                                          const std::map<std::string, std::vector<int64_t>>& buffers);

}  // namespace qforge::fakequant
