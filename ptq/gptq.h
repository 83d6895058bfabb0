#pragma once
// GPTQ on one linear layer (Frantar et al. 2022, "GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers", Algorithm 1): the weight's columns are rounded one at a time
// and each column's rounding error is fed back into the columns not yet rounded, weighted by the
// inverse Hessian of the layer's reconstruction loss ||W X - Q X||^2, H = 2 X^T X / n.
//
// Conventions follow the reference implementation (IST-DASLab/gptq) and AutoGPTQ/GPTQModel, so the
// codes are theirs:
//   - the grid (torch.ao's convention): maxq = 2^bits - 1; per group of a row
//     xmin = min(min w, 0), xmax = max(max w, 0); symmetric: xmax = max(|xmin|, xmax) and, when xmin < 0,
//     xmin = -xmax, zero = (maxq + 1) / 2; asymmetric: zero = round(-xmin / scale); a group of zeros
//     gets [-1, 1]; scale = (xmax - xmin) / maxq; q = clamp(round(w / scale) + zero, 0, maxq) with a
//     true division and round-half-to-even; the dequantized value is scale * (q - zero);
//   - inputs that are always zero (H_ii = 0) get H_ii = 1 and their weights are zeroed;
//   - dampening adds damp * mean(diag H) to the diagonal; the upper Cholesky factor U of H^-1 drives
//     the updates (H^-1 = U^T U, its rows are the feedback weights);
//   - columns in blocks of `block_size` with the lazy batch update of the later columns (§4, "Lazy
//     Batch-Updates");
//   - group scales are chosen when a column starts a group, from the weight as it is at that moment
//     outside the current block (the block's own feedback not yet applied): the reference's "stale"
//     choice, measured better at 2 bits;
//   - act-order: columns in descending diag(H); groups are `group_size` consecutive columns in that
//     order (group_index[c] = position of c in the order / group_size), or with static groups the
//     original contiguous groups with scales fixed from the unmodified weight.
#include <cstdint>
#include <span>
#include <vector>

#include "ptq/int_grid.h"

namespace qforge::ptq {


struct GptqOptions {
  double damp = 0.01;        // fraction of mean(diag H) added to the diagonal
  int64_t block_size = 128;  // columns per lazy batch
  bool act_order = false;    // columns in descending diag(H)
  bool static_groups = false;  // with act_order: contiguous groups, scales from the unmodified weight
};

// H = 2 X^T X / n over every input row x (a token) a layer sees; streamed batch by batch as the
// reference does (a running mean, so the scale does not depend on n). Each batch's X^T X is a float32
// product on the GEMM kernel (the reference accumulates entirely in float32); the mean is double.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t columns);
  // `rows` consecutive input rows of `columns` floats.
  void add(std::span<const float> rows);
  int64_t columns() const { return columns_; }
  int64_t samples() const { return samples_; }
  const std::vector<double>& matrix() const;  // columns x columns, row-major, symmetric

 private:
  int64_t columns_, samples_ = 0;
  mutable std::vector<double> h_;  // add() keeps the upper triangle; matrix() mirrors it
  mutable bool lower_stale_ = false;
  std::vector<float> scratch_;     // the batch's X^T X (upper tiles)
};

struct GptqLayer {
  std::vector<float> weight;          // dequantized, [rows, cols], the layer's own column order
  std::vector<int32_t> codes;         // [rows, cols] in 0..2^bits-1
  std::vector<float> scales, zeros;   // [rows, groups]; zeros hold integers (the GPTQ zero point)
  std::vector<int32_t> group_index;   // per input column: its group (g_idx)
  std::vector<int32_t> order;         // the column order GPTQ used (identity without act_order)
  double loss = 0.0;                  // GPTQ's Σ (w - q)^2 / (2 U_ii^2), the layer's proxy error
};

// Quantizes `weight` ([rows, cols], row-major) given the Hessian of its inputs ([cols, cols]).
// std::invalid_argument naming the field when shapes, bits (2..8), group size or options do not fit.
GptqLayer gptq_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                        const IntGrid& grid, const GptqOptions& options);

}  // namespace qforge::ptq
