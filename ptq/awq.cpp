// AWQ's scale and clip searches (awq.h).
#include "ptq/awq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "autograd/kernels/gemm.h"
#include "fakequant/int_quantizer.h"

namespace qforge::ptq {
namespace {

constexpr int kScaleGrid = 20;  // alpha = i / 20, i = 0..19 (llm-awq auto_scale n_grid)
constexpr int kClipGrid = 20;   // max |w| (1 - i / 20), i = 0..9 (llm-awq auto_clip max_shrink 0.5)
constexpr int kClipSteps = 10;
constexpr int64_t kClipRows = 64;  // rows per clip-search task

fakequant::GranularitySpec granularity(const IntGrid& grid) {
  return grid.group_size > 0 ? fakequant::GranularitySpec::per_group(grid.group_size)
                             : fakequant::GranularitySpec::per_channel(0);
}

int64_t group_width(const IntGrid& grid, int64_t cols) { return grid.group_size > 0 ? grid.group_size : cols; }

float max_abs(const float* w, int64_t width) {
  float m = 0;
  for (int64_t k = 0; k < width; ++k) m = std::max(m, std::abs(w[k]));
  return m;
}

// Q of one group [begin, begin + width) of one row, with its own min-max scale.
void fake_quantize_group(const float* w, float* q, int64_t width, const IntGrid& grid) {
  const fakequant::IntFormat format{grid.bits, grid.symmetric};
  float lo = 0, hi = 0;
  for (int64_t k = 0; k < width; ++k) lo = std::min(lo, w[k]), hi = std::max(hi, w[k]);
  const fakequant::ScaleAndZeroPoint p = fakequant::choose_scale(lo, hi, format);
  for (int64_t k = 0; k < width; ++k)
    q[k] = fakequant::dequantize_value(fakequant::quantize_value(w[k], 1.0f / p.scale, p.zero_point, format.qmin(), format.qmax()),
                                       p.scale, p.zero_point);
}

}  // namespace

std::vector<float> fake_quantize_weight(std::span<const float> weight, int64_t rows, int64_t cols, const IntGrid& grid) {
  const autograd::Tensor w = autograd::Tensor::from_vector(autograd::Shape{rows, cols}, {weight.begin(), weight.end()});
  const fakequant::IntFormat format{grid.bits, grid.symmetric};
  const fakequant::GranularitySpec spec = granularity(grid);
  return fakequant::fake_quantize(w, fakequant::compute_scales(w, format, spec), format, spec).to_vector();
}

std::vector<float> scaled_fake_quantize(std::span<const float> weight, int64_t rows, int64_t cols,
                                        std::span<const float> scales, const IntGrid& grid) {
  // One pass per (row, group) instead of scale, quantize and unscale over the whole matrix: the search
  // runs it 20 times per block, and the per-group arithmetic is that of fake_quantize_weight.
  const int64_t width = group_width(grid, cols), groups = cols / width;
  std::vector<float> q(static_cast<size_t>(rows * cols));
#pragma omp parallel
  {
    std::vector<float> scaled(static_cast<size_t>(width));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t begin = r * cols + g * width;
        const float* s = scales.data() + g * width;
        for (int64_t k = 0; k < width; ++k) scaled[k] = weight[begin + k] * s[k];
        fake_quantize_group(scaled.data(), q.data() + begin, width, grid);
        for (int64_t k = 0; k < width; ++k) q[begin + k] /= s[k];
      }
  }
  return q;
}

std::vector<float> mean_abs(std::span<const float> x, int64_t cols) {
  const int64_t n = static_cast<int64_t>(x.size()) / cols;
  std::vector<double> sum(static_cast<size_t>(cols), 0.0);
  for (int64_t i = 0; i < n * cols; ++i) sum[i % cols] += std::abs(x[i]);
  std::vector<float> out(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) out[j] = static_cast<float>(sum[j] / static_cast<double>(std::max<int64_t>(n, 1)));
  return out;
}

std::vector<float> awq_scales(std::span<const float> channel_mean, double alpha) {
  std::vector<float> s(channel_mean.size());
  // llm-awq: x_max.pow(ratio).clamp(min=1e-4), then / sqrt(max * min).
  for (size_t j = 0; j < s.size(); ++j) s[j] = std::max(std::pow(channel_mean[j], static_cast<float>(alpha)), 1e-4f);
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  const float norm = std::sqrt(*hi * *lo);
  for (float& v : s) v /= norm;
  return s;
}

AwqScaleSearch search_scales(std::span<const float> channel_mean, const std::function<double(const std::vector<float>&)>& loss) {
  AwqScaleSearch best;
  double best_loss = std::numeric_limits<double>::infinity();
  for (int i = 0; i < kScaleGrid; ++i) {
    const double alpha = static_cast<double>(i) / kScaleGrid;
    std::vector<float> s = awq_scales(channel_mean, alpha);
    const double l = loss(s);
    best.losses.push_back(l);
    if (l < best_loss) best_loss = l, best.alpha = alpha, best.scales = std::move(s);
  }
  return best;
}

std::vector<float> search_clip(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const float> x,
                               const IntGrid& grid) {
  if (x.size() % static_cast<size_t>(cols) != 0)
    throw std::invalid_argument("awq clip: " + std::to_string(x.size()) + " input values are not rows of " + std::to_string(cols));
  const int64_t tokens = static_cast<int64_t>(x.size()) / cols;
  const int64_t width = group_width(grid, cols), groups = cols / width;
  // A group's error sum_t (d . x_t)^2 (d = w - Q(clip(w))) is d^T G d with G = X_g^T X_g: a product with
  // a [width, width] matrix per candidate instead of one over every token, when the group is narrower
  // than the token sample (llm-awq: 512 tokens, groups of 128).
  const bool by_gram = width < tokens;
  std::vector<float> gram;
  if (by_gram) {
    gram.resize(static_cast<size_t>(groups * width * width));
    for (int64_t g = 0; g < groups; ++g)
      autograd::kernels::gemm(true, false, width, width, tokens, 1.0f, x.data() + g * width, cols, x.data() + g * width, cols,
                              0.0f, gram.data() + g * width * width, width);
  }
  std::vector<float> out(static_cast<size_t>(rows * groups));
  const int64_t blocks = (rows + kClipRows - 1) / kClipRows;
  // One task per (block of rows, group), each product single-threaded inside it: a parallel region per
  // task rather than per candidate.
#pragma omp parallel
  {
    std::vector<float> clipped(static_cast<size_t>(width)), d(static_cast<size_t>(kClipRows * width));
    std::vector<float> e(static_cast<size_t>(kClipRows * (by_gram ? width : tokens)));
    std::vector<double> best(static_cast<size_t>(kClipRows));
#pragma omp for schedule(dynamic)
    for (int64_t task = 0; task < blocks * groups; ++task) {
      const int64_t r0 = (task / groups) * kClipRows, n = std::min(kClipRows, rows - r0), g = task % groups;
      std::fill(best.begin(), best.end(), std::numeric_limits<double>::infinity());
      for (int i = 0; i < kClipSteps; ++i) {
        for (int64_t r = 0; r < n; ++r) {
          const float* w = weight.data() + (r0 + r) * cols + g * width;
          float* dr = d.data() + r * width;
          const float m = max_abs(w, width) * (1.0f - static_cast<float>(i) / kClipGrid);
          for (int64_t k = 0; k < width; ++k) clipped[k] = std::clamp(w[k], -m, m);
          fake_quantize_group(clipped.data(), dr, width, grid);
          for (int64_t k = 0; k < width; ++k) dr[k] = w[k] - dr[k];
        }
        if (by_gram)
          autograd::kernels::gemm(false, false, n, width, width, 1.0f, d.data(), width, gram.data() + g * width * width, width,
                                  0.0f, e.data(), width);
        else
          autograd::kernels::gemm(false, true, n, tokens, width, 1.0f, d.data(), width, x.data() + g * width, cols, 0.0f,
                                  e.data(), tokens);
        for (int64_t r = 0; r < n; ++r) {
          double err = 0;
          if (by_gram)
            for (int64_t k = 0; k < width; ++k) err += static_cast<double>(d[r * width + k]) * e[r * width + k];
          else
            for (int64_t t = 0; t < tokens; ++t) err += static_cast<double>(e[r * tokens + t]) * e[r * tokens + t];
          if (err < best[r]) {
            best[r] = err;
            out[(r0 + r) * groups + g] = max_abs(weight.data() + (r0 + r) * cols + g * width, width) *
                                         (1.0f - static_cast<float>(i) / kClipGrid);
          }
        }
      }
    }
  }
  return out;
}

void apply_clip(std::span<float> weight, int64_t rows, int64_t cols, std::span<const float> max_values, const IntGrid& grid) {
  const int64_t width = group_width(grid, cols), groups = cols / width;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float m = max_values[r * groups + c / width];
      weight[r * cols + c] = std::clamp(weight[r * cols + c], -m, m);
    }
}

}  // namespace qforge::ptq
