#pragma once
// GPTQ with a ggml codec as the rounding function (docs/gguf.md §12): Algorithm 1 of Frantar et al.
// 2022 (columns rounded in order, each column's error fed back through the upper Cholesky factor of
// H^-1, lazy batch updates, §4), where the grid of each ggml block is the codec's own:
//   - when a column starts a codec block (a Q4_K / Q6_K super-block of 256 columns, a Q8_0 / IQ4_NL
//     block of 32), every row's block parameters (scales, mins) are chosen by the codec's own search
//     (llama.cpp's, importance-weighted, fakequant/formats/ggml/block_rounding.h) from the weights as
//     they are at that moment, i.e. with the feedback of every earlier column: GPTQ's choice of a
//     group's scale when its first column comes up (ptq-notes "stale" choice; lazy batches are whole
//     codec blocks, so a super-block never straddles a pending batch update);
//   - each column is then rounded to its block's fixed grid by the codec's final rounding, and the
//     result's bytes are the codec's encoding: a reader decodes exactly the weights GPTQ chose;
//   - the importance of the search is diag(H) = 2 X^T X / n, i.e. twice the imatrix (mean x^2 per
//     input column, docs/gguf.md §8-§9) of the same calibration inputs; the searches are invariant to
//     a power-of-two factor, so the parameters are those llama-quantize would pick with that imatrix
//     for the same weights. Without feedback (a diagonal H) the bytes are llama-quantize's.
// Dead inputs (H_ii = 0) get H_ii = 1 and zero weights, dampening adds damp * mean(diag H), as gptq.h.
#include <cstdint>
#include <span>
#include <vector>

#include "fakequant/formats/ggml/block_rounding.h"

namespace qforge::ptq {

struct GgmlGptqOptions {
  double damp = 0.01;        // fraction of mean(diag H) added to the diagonal
  int64_t block_size = 256;  // columns per lazy batch, rounded up to whole codec blocks
  bool importance = true;    // diag(H) as the searches' importance; false: the codecs' unweighted search
};

struct GgmlGptqLayer {
  fakequant::ggml::EncodedRows encoded;  // [rows] rows of the codec's blocks
  std::vector<float> weight;             // [rows, cols]: encoded decoded, bit for bit
  double loss = 0.0;                     // GPTQ's Σ (w - q)^2 / (2 U_ii^2)
};

// `weight` [rows, cols] row-major, `hessian` [cols, cols]; ggml_type one of block_rounding's (Q4_K,
// Q6_K, Q8_0, IQ4_NL). std::invalid_argument naming the field when shapes, type or options do not fit.
GgmlGptqLayer gptq_quantize_ggml(std::span<const float> weight, int64_t rows, int64_t cols,
                                 std::span<const double> hessian, uint32_t ggml_type, const GgmlGptqOptions& options);

}  // namespace qforge::ptq
