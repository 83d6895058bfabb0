#pragma once
// AWQ's two searches on plain tensors (Lin et al. 2023, "AWQ: Activation-aware Weight Quantization for
// LLM Compression and Acceleration", §3.2-3.3), used by ptq/awq_method.h on a Llama:
//   - scales: the salient input channels are those with large activations, so each channel j is
//     multiplied by s_j = sx_j^alpha / sqrt(max(sx^alpha) * min(sx^alpha)) (sx = mean |x_j|, the
//     normalisation of the reference implementation) before quantization and divided back after,
//     W' = Q(W diag(s)) diag(s)^-1; alpha is chosen on the grid i / 20, i = 0..19, by the squared error
//     of the output the caller judges (a block's output, not one layer's), alpha = 0 being plain
//     rounding;
//   - clipping: per (output row, group) the range max |w_g| (1 - i / 20), i = 0..9 (a symmetric clip
//     [-m, m]) that minimises the group's share of the output error, sum_t ((w_g - Q(clip(w_g))) x_t,g)^2.
// Q is the quantizer's own round to nearest (fakequant/int_quantizer.h: min-max scales per output
// channel or per group of input columns, x * (1/scale) rounded half to even).
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "ptq/int_grid.h"

namespace qforge::ptq {

// Q(w) for w [rows, cols] on the grid.
std::vector<float> fake_quantize_weight(std::span<const float> weight, int64_t rows, int64_t cols, const IntGrid& grid);

// Q(W diag(s)) diag(s)^-1.
std::vector<float> scaled_fake_quantize(std::span<const float> weight, int64_t rows, int64_t cols,
                                        std::span<const float> scales, const IntGrid& grid);

// mean |x_j| over the rows of x [n, cols].
std::vector<float> mean_abs(std::span<const float> x, int64_t cols);

// s(alpha) from the channel means (above), in float as the reference computes it.
std::vector<float> awq_scales(std::span<const float> channel_mean, double alpha);

struct AwqScaleSearch {
  double alpha = 0.0;
  std::vector<float> scales;
  std::vector<double> losses;  // per grid point, i = 0..19
};
// The grid point whose scales give the smallest loss(scales); ties go to the smaller alpha.
AwqScaleSearch search_scales(std::span<const float> channel_mean, const std::function<double(const std::vector<float>&)>& loss);

// The clip range per (row, group) of w [rows, cols] for inputs x [n, cols] (row-major, [rows, groups]).
std::vector<float> search_clip(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const float> x,
                               const IntGrid& grid);
// w = clamp(w, -m, m) with m of its (row, group).
void apply_clip(std::span<float> weight, int64_t rows, int64_t cols, std::span<const float> max_values, const IntGrid& grid);

}  // namespace qforge::ptq
