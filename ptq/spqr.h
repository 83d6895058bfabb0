#pragma once
// SpQR on one linear layer (Dettmers et al. 2023, "SpQR: A Sparse-Quantized Representation for
// Near-Lossless LLM Weight Compression", §3.3 and Algorithm 1): GPTQ's column-by-column rounding with
// error feedback through the inverse Hessian (ptq/gptq.h), with
//   - small groups: beta1 consecutive columns (in the act-order permutation) of a row share an
//     asymmetric min-max grid w = s (q - z) with a real zero z (SpQR does not round it);
//   - those statistics quantized in turn (§3.2 "bilevel quantization"): the scales of beta2
//     consecutive rows of one group form a vector quantized to stat_bits bits with its own min-max
//     scale and zero (second-order statistics, stored as fp16), the zeros likewise;
//   - unstructured outliers (§3.3): a weight whose rounding error, seen through the inverse Hessian,
//     (w - q(w))^2 / U_jj^2 exceeds tau * mean_j(Var(W[:, j]) / U_jj^2), is kept as an fp16 value
//     instead of a code (U: upper Cholesky factor of H^-1, so U_jj^2 is the inverse-Hessian diagonal
//     of the columns not yet quantized, GPTQ's [H_F^-1]_jj); tau is the paper's relative threshold;
//   - the group statistics fitted without the likely outliers: for each weight of the group the
//     reduction of the group's Hessian-weighted error when that weight is left out of the min-max fit
//     and not quantized; weights whose reduction exceeds the threshold are replaced by the mean of
//     the others before the fit (Algorithm 1's leave-one-out outlier detection).
// Conventions (the SpQR reference implementation's, written down in docs/spqr.md §2): dead inputs
// zeroed with H_jj = 1, dampening, act-order and the Cholesky factor exactly as ptq/gptq.h; groups are
// fitted on the weights as they are when their first column comes up (all feedback so far applied:
// the lazy batches change nothing but speed, so the block size must be a multiple of beta1);
// q = clamp(round(w / max(s, 1e-9) + z), 0, 2^bits - 1) with round half to even; an outlier's code
// is the code of 0 (the dense matrix holds it, the forward does not use it). Outlier values are
// rounded to fp16 before their (tiny) error is fed back, so the model is what an fp16 file holds.
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "fakequant/spqr_weight.h"

namespace qforge::ptq {

struct SpqrOptions {
  int bits = 3;             // w, bits of a weight code
  int64_t beta1 = 16;       // columns per group
  int64_t beta2 = 16;       // rows per second-order group
  int stat_bits = 3;        // bits of a scale / zero code
  double damp = 0.01;       // fraction of mean(diag H) added to the diagonal
  int64_t block_size = 128;  // columns per lazy batch (a multiple of beta1)
  bool act_order = true;    // columns in descending diag(H) (the paper uses it)
  // tau, relative to mean_j(Var(W[:, j]) / U_jj^2); infinity: no outliers (and no leave-one-out fit).
  double threshold = std::numeric_limits<double>::infinity();
};

struct SpqrLayer {
  std::vector<float> weight;     // dequantized [rows, cols], original column order, outliers included
  std::vector<int32_t> codes;    // [rows, cols], original column order
  fakequant::SpqrState state;    // codes of the statistics, second-order records, permutation, outliers
  double threshold = 0.0;        // the absolute threshold tau * mean(Var / U_jj^2)
  double loss = 0.0;             // Σ (w - value)^2 / (2 U_jj^2), GPTQ's proxy error
  double outlier_fraction() const { return static_cast<double>(state.outliers.size()) / static_cast<double>(weight.size()); }
};

// std::invalid_argument naming the field when shapes, bits, group sizes or options do not fit.
SpqrLayer spqr_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                        const SpqrOptions& options);

// The relative threshold (searched geometrically between 1e-4 and 1e4, 16 halvings of the log-range)
// whose outlier fraction is the largest not above `fraction`, and the layer quantized with it.
SpqrLayer spqr_quantize_to_fraction(std::span<const float> weight, int64_t rows, int64_t cols,
                                    std::span<const double> hessian, SpqrOptions options, double fraction);

// Storage per weight as the paper counts it (docs/spqr.md §3, the reference's get_average_number_of_bits):
// bits + 2 stat_bits / beta1 + 2 (16 + 16) / (beta1 beta2) + 32 * outlier fraction (an fp16 value
// and a 16-bit column index per outlier). The permutation (16 bits per input column) is not counted.
double spqr_bits_per_weight(const SpqrOptions& options, double outlier_fraction);

}  // namespace qforge::ptq
