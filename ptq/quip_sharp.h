#pragma once
// QuIP# on one linear layer (Tseng et al. 2024, "QuIP#: Even Better LLM Quantization with Hadamard
// Incoherence and Lattice Codebooks"), 2 bits per weight with the E8P codebook (fakequant/formats/e8p.h):
//   1. incoherence processing (§3, Algorithm 1): with random sign vectors SU (inputs) and SV (outputs)
//      and the normalized Hadamard transforms T_in, T_out of fakequant/hadamard.h,
//        W' = T_out diag(SV) W diag(SU) T_in^T,   H' = T_in diag(SU) H diag(SU) T_in^T,
//      so that tr((W - Q) H (W - Q)^T) = tr((W' - Q') H' (W' - Q')^T) and y = W x reads
//      y = diag(SV) T_out^T W' T_in diag(SU) x: the forward QuIP# runs;
//   2. BlockLDLQ (§4.1; LDLQ of Chee et al. 2023, "QuIP: 2-Bit Quantization of Large Language Models
//      With Guarantees", §3): the damped H' = L D L^T with L unit block-lower-triangular in 8 x 8 blocks
//      (from the Cholesky factor), columns in blocks of 8 from the last to the first (quip-sharp's
//      order for a lower L), each block rounded to Q(W'_k + (W' - Q')_{>k} L_{>k,k}) row by row, one
//      E8P codeword per 8 weights of a row; then tr(E H' E^T) = tr(eta D eta^T) for the rounding
//      errors eta;
//   3. the scale: W' is divided by Wscale = RMS(W') / 1.03 before rounding (quip-sharp's
//      E8P12 opt_scale), so the codes decode to Wscale * codeword.
//   4. optionally (tune_iterations, quip-sharp's quip_tune_iters, not in the paper's algorithm): passes of
//      block coordinate descent on the proxy loss, each block re-rounded from Q'_k + (W' - Q') H'_{:,k} H'_kk^-1.
// Damping adds damp * mean(diag H) to the diagonal (quip-sharp's sigma_reg, 0.01), which also keeps
// inputs that are always zero harmless. Everything runs in double precision (Eigen, private).
#include <cstdint>
#include <span>
#include <vector>

#include "fakequant/quip_sharp_weight.h"

namespace qforge::ptq {

struct QuipSharpOptions {
  double damp = 0.01;       // fraction of mean(diag H) added to the diagonal
  uint64_t seed = 0;        // SU and SV (hadamard.h random_signs: seed for SU, seed + 1 for SV)
  double opt_scale = 1.03;  // Wscale = RMS(W') / opt_scale (kE8pOptScale)
  int tune_iterations = 0;  // quip-sharp's quip_tune_iters: block coordinate descent passes after LDLQ
};

struct QuipSharpLayer {
  std::vector<uint16_t> codes;  // [rows, cols / 8]: E8P codes of W' / Wscale, 8 consecutive inputs each
  std::vector<int8_t> su, sv;   // [cols], [rows]: the sign vectors
  float wscale = 0;             // W'_hat = wscale * decoded codes (float32: the value a checkpoint stores)
  std::vector<float> weight;    // [rows, cols]: diag(SV) T_out^T W'_hat T_in diag(SU), what the codes compute
  double proxy_loss = 0;        // tr((W' - W'_hat) H' (W' - W'_hat)^T) with the damped H'
};

// Quantizes `weight` ([rows, cols], row-major) given the Hessian of its inputs ([cols, cols]) with
// signs drawn from options.seed. std::invalid_argument naming the field when shapes do not fit: cols
// must be a multiple of 8 and rows and cols Hadamard sizes (hadamard.h).
QuipSharpLayer quip_sharp_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                                   const QuipSharpOptions& options);

// The same with given sign vectors (tests feed them to an independent reference).
QuipSharpLayer quip_sharp_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                                   std::vector<int8_t> su, std::vector<int8_t> sv, const QuipSharpOptions& options);

// The representation fakequant::QuipSharpWeightQuantizer holds (signs as floats).
fakequant::QuipSharpState quip_sharp_state(const QuipSharpLayer& layer, int64_t rows, int64_t cols);

// The effective dense weight of codes, signs and scale: diag(SV) T_out^T (Wscale * decode) T_in diag(SU),
// as the quantizer's forward computes it (fakequant::quip_sharp_weight).
std::vector<float> quip_sharp_dequantize(const QuipSharpLayer& layer, int64_t rows, int64_t cols);

}  // namespace qforge::ptq
