// SpQR on one layer (spqr.h): Algorithm 1 of Dettmers et al. 2023 in double precision (Eigen, private
// to this file), its statistics in the float32 / fp16 arithmetic of fakequant/spqr_weight.h.
#include "ptq/spqr.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fakequant/formats/half.h"
#include "ptq/inverse_hessian.h"

namespace qforge::ptq {
namespace {

using Matrix = HessianMatrix;
using fakequant::SpqrGroupParams;

// The SpQR reference's min-max fit (its find_params, asymmetric, zero not rounded): the range of the
// values themselves (0 need not be inside), a constant set gets [-1, 1].
struct MinMax {
  double scale, zero;
};
MinMax fit_min_max(const double* v, int64_t n, int64_t skip, double maxq) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (int64_t k = 0; k < n; ++k)
    if (k != skip) lo = std::min(lo, v[k]), hi = std::max(hi, v[k]);
  if (lo == hi) lo = -1, hi = 1;
  const double scale = (hi - lo) / maxq;
  return {scale, -lo / scale};
}

double requantized(double w, const MinMax& p, double maxq) {
  const double q = std::clamp(std::nearbyint(w / std::max(p.scale, 1e-9) + p.zero), 0.0, maxq);
  return p.scale * (q - p.zero);
}

// Σ_k ((Q(v_k) - v_k) / d_k)^2 over the group without `skip`, Q fitted without `skip` too.
double fit_error(const double* v, const double* d, int64_t n, int64_t skip, double maxq) {
  const MinMax p = fit_min_max(v, n, skip, maxq);
  double e = 0;
  for (int64_t k = 0; k < n; ++k)
    if (k != skip) e += std::pow((requantized(v[k], p, maxq) - v[k]) / d[k], 2);
  return e;
}

// A row's first-order statistics for one group (spqr.h: leave-one-out outlier detection, then the
// min-max fit with the likely outliers replaced by the mean of the others). Leaving out a weight that
// is not the group's only minimum or only maximum keeps the fit, so its error reduction is its own
// term of the group's error; only those two need a refit (the same numbers, O(n) instead of O(n^2)).
MinMax fit_row(std::vector<double> v, const double* d, double tau, double maxq) {
  const int64_t n = static_cast<int64_t>(v.size());
  if (std::isfinite(tau) && n > 1) {
    const MinMax all = fit_min_max(v.data(), n, -1, maxq);
    std::vector<double> own(static_cast<size_t>(n));
    double base = 0;
    for (int64_t k = 0; k < n; ++k) base += own[k] = std::pow((requantized(v[k], all, maxq) - v[k]) / d[k], 2);
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    const auto lo_count = std::count(v.begin(), v.end(), *lo), hi_count = std::count(v.begin(), v.end(), *hi);
    std::vector<bool> likely(static_cast<size_t>(n));
    double sum = 0, count = 0;
    for (int64_t k = 0; k < n; ++k) {
      const bool refit = (v[k] == *lo && lo_count == 1) || (v[k] == *hi && hi_count == 1);
      likely[k] = (refit ? base - fit_error(v.data(), d, n, k, maxq) : own[k]) > tau;
      if (!likely[k]) sum += v[k], count += 1;
    }
    const double mean = sum / std::max(count, 1.0);
    for (int64_t k = 0; k < n; ++k)
      if (likely[k]) v[k] = mean;
  }
  return fit_min_max(v.data(), n, -1, maxq);
}

// The scales (or zeros) of rows [begin, end) of one group as stat_bits-bit codes with a second-order
// min-max scale and zero rounded to fp16 (spqr.h). Returns {scale, zero} of that quantizer.
std::pair<float, float> quantize_statistic(const std::vector<double>& values, int64_t begin, int64_t end, int stat_bits,
                                           std::vector<int64_t>& codes, int64_t groups, int64_t group) {
  const double maxq = std::ldexp(1.0, stat_bits) - 1.0;
  const MinMax raw = fit_min_max(values.data() + begin, end - begin, -1, maxq);
  const float scale = fakequant::round_to_fp16(static_cast<float>(raw.scale));
  const float zero = fakequant::round_to_fp16(static_cast<float>(raw.zero));
  for (int64_t r = begin; r < end; ++r) {
    const double q = std::nearbyint(values[r] / std::max(static_cast<double>(scale), 1e-9) + static_cast<double>(zero));
    codes[r * groups + group] = static_cast<int64_t>(std::clamp(q, 0.0, maxq));
  }
  return {scale, zero};
}

// Fits group `group` (permuted columns [begin, end)) of every row and stores its statistics' codes and
// second-order records in `state`.
void fit_group(const Matrix& block, int64_t begin, int64_t end, const Eigen::VectorXd& d, double tau,
               const SpqrOptions& o, int64_t group, fakequant::SpqrState& state) {
  const double maxq = std::ldexp(1.0, o.bits) - 1.0;
  const int64_t rows = block.rows(), groups = state.layout.groups();
  std::vector<double> scales(static_cast<size_t>(rows)), zeros(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> v(static_cast<size_t>(end - begin));
    for (int64_t k = 0; k < end - begin; ++k) v[k] = block(r, begin + k);
    const MinMax p = fit_row(std::move(v), d.data() + begin, tau, maxq);
    scales[r] = p.scale, zeros[r] = p.zero;
  }
  for (int64_t b = 0; b * o.beta2 < rows; ++b) {
    const int64_t r0 = b * o.beta2, r1 = std::min(r0 + o.beta2, rows);
    const auto [ss, sz] = quantize_statistic(scales, r0, r1, o.stat_bits, state.scale_codes, groups, group);
    const auto [zs, zz] = quantize_statistic(zeros, r0, r1, o.stat_bits, state.zero_codes, groups, group);
    float* record = state.second_order.data() + (b * groups + group) * 4;
    record[0] = ss, record[1] = zs, record[2] = sz, record[3] = zz;  // the HF record's order
  }
}

void check(const SpqrOptions& o, int64_t rows, int64_t cols, size_t weights, size_t h) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument("spqr: " + what); };
  if (rows <= 0 || cols <= 0 || weights != static_cast<size_t>(rows * cols))
    fail("weight has " + std::to_string(weights) + " values, not rows " + std::to_string(rows) + " x cols " + std::to_string(cols));
  if (h != static_cast<size_t>(cols * cols)) fail("Hessian has " + std::to_string(h) + " values, not cols^2 = " + std::to_string(cols * cols));
  if (o.bits < 2 || o.bits > 8) fail("bits " + std::to_string(o.bits) + " not in 2..8");
  if (o.stat_bits < 1 || o.stat_bits > 8) fail("qq_bits " + std::to_string(o.stat_bits) + " not in 1..8");
  if (o.beta1 <= 0 || o.beta2 <= 0) fail("beta1 " + std::to_string(o.beta1) + " and beta2 " + std::to_string(o.beta2) + " must be positive");
  if (o.block_size <= 0 || o.block_size % o.beta1 != 0)
    fail("block " + std::to_string(o.block_size) + " is not a positive multiple of beta1 " + std::to_string(o.beta1));
  if (!(o.damp >= 0)) fail("damp " + std::to_string(o.damp) + " must be >= 0");
  if (!(o.threshold >= 0)) fail("threshold " + std::to_string(o.threshold) + " must be >= 0");
}

// tau * mean_j(Var(W[:, j]) / U_jj^2): the paper's threshold made absolute (the reference's
// outlier_scale, unbiased variance over the rows).
double absolute_threshold(const Matrix& w, const Matrix& u, double tau) {
  if (!std::isfinite(tau) || w.rows() < 2) return std::numeric_limits<double>::infinity();
  double total = 0;
  for (Eigen::Index j = 0; j < w.cols(); ++j) {
    const double mean = w.col(j).mean();
    const double var = (w.col(j).array() - mean).square().sum() / static_cast<double>(w.rows() - 1);
    total += var / (u(j, j) * u(j, j));
  }
  return tau * total / static_cast<double>(w.cols());
}

}  // namespace

namespace {

// The layer in GPTQ's (permuted) column order while it is being quantized.
struct Work {
  Matrix values;                  // the chosen value of every weight
  std::vector<int64_t> codes;     // [rows, cols]
  std::vector<char> outlier;      // [rows, cols]
};

// Rounds column j (position i of the block) of every row, keeping outliers, and returns the errors
// (w - value) / U_jj that GPTQ feeds back.
Eigen::VectorXd quantize_column(const Matrix& block, int64_t i, int64_t j, double d, const SpqrLayer& out,
                                const SpqrOptions& o, Work& work, double& loss) {
  const int64_t rows = block.rows(), cols = work.values.cols(), group = j / o.beta1;
  Eigen::VectorXd errors(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const SpqrGroupParams p = fakequant::spqr_group_params(out.state, r, group);
    const double w = block(r, i);
    int64_t code = fakequant::spqr_code(w, p, o.bits);
    double value = fakequant::spqr_dequantize(code, p);
    const bool outlier = std::pow((w - value) / d, 2) > out.threshold;
    if (outlier) {
      value = fakequant::round_to_fp16(static_cast<float>(w));
      code = fakequant::spqr_code(0.0, p, o.bits);
    }
    work.values(r, j) = value;
    work.codes[r * cols + j] = code;
    work.outlier[r * cols + j] = outlier;
    errors[r] = (w - value) / d;
    loss += errors[r] * errors[r] / 2;
  }
  return errors;
}

// Algorithm 1's loop over blocks and columns with GPTQ's lazy batch updates.
void quantize_columns(Matrix& wp, const Matrix& u, const SpqrOptions& o, SpqrLayer& out, Work& work) {
  const int64_t rows = wp.rows(), cols = wp.cols();
  const Eigen::VectorXd d = u.diagonal();
  for (int64_t i1 = 0; i1 < cols; i1 += o.block_size) {
    const int64_t i2 = std::min(i1 + o.block_size, cols), count = i2 - i1;
    Matrix block = wp.middleCols(i1, count), errors(rows, count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i;
      if (j % o.beta1 == 0) {
        fit_group(block, i, std::min(i + o.beta1, count), d.segment(i1, count), out.threshold, o, j / o.beta1, out.state);
      }
      errors.col(i) = quantize_column(block, i, j, d[j], out, o, work, out.loss);
      block.rightCols(count - i - 1).noalias() -= errors.col(i) * u.row(j).segment(j + 1, count - i - 1);
    }
    if (i2 < cols) wp.rightCols(cols - i2).noalias() -= errors * u.block(i1, i2, count, cols - i2);
  }
}

void init_state(fakequant::SpqrState& s, int64_t rows, int64_t cols, const SpqrOptions& o) {
  s.layout = {rows, cols, o.bits, o.beta1, o.beta2, o.stat_bits};
  const int64_t groups = s.layout.groups();
  s.scale_codes.assign(static_cast<size_t>(rows * groups), 0);
  s.zero_codes.assign(static_cast<size_t>(rows * groups), 0);
  s.second_order.assign(static_cast<size_t>(s.layout.row_blocks() * groups * 4), 0.0f);
}

}  // namespace

SpqrLayer spqr_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                        const SpqrOptions& options) {
  check(options, rows, cols, weight.size(), hessian.size());
  Matrix w = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(weight.data(), rows, cols)
                 .cast<double>();
  Matrix h = Eigen::Map<const Matrix>(hessian.data(), cols, cols);
  for (int64_t c = 0; c < cols; ++c) {
    if (h(c, c) == 0) h(c, c) = 1, w.col(c).setZero();  // an input that is always 0: nothing to preserve
  }
  const std::vector<int32_t> order = column_order(h, options.act_order);
  Matrix wp(rows, cols), hp(cols, cols);
  for (int64_t j = 0; j < cols; ++j) {
    wp.col(j) = w.col(order[j]);
    for (int64_t k = 0; k < cols; ++k) hp(j, k) = h(order[j], order[k]);
  }
  const Matrix u = inverse_hessian_factor(std::move(hp), options.damp, "spqr");

  SpqrLayer out;
  init_state(out.state, rows, cols, options);
  out.state.permutation.assign(order.begin(), order.end());
  out.threshold = absolute_threshold(wp, u, options.threshold);
  Work work{Matrix(rows, cols), std::vector<int64_t>(static_cast<size_t>(rows * cols)), std::vector<char>(static_cast<size_t>(rows * cols))};
  quantize_columns(wp, u, options, out, work);

  out.weight.resize(static_cast<size_t>(rows * cols));
  out.codes.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t original = r * cols + order[j];
      out.weight[original] = static_cast<float>(work.values(r, j));
      out.codes[original] = static_cast<int32_t>(work.codes[r * cols + j]);
      if (work.outlier[r * cols + j]) out.state.outliers.push_back(original);
    }
  }
  std::sort(out.state.outliers.begin(), out.state.outliers.end());
  return out;
}

SpqrLayer spqr_quantize_to_fraction(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                                    SpqrOptions options, double fraction) {
  if (!(fraction >= 0 && fraction < 1)) throw std::invalid_argument("spqr: outlier fraction " + std::to_string(fraction) + " not in [0, 1)");
  options.threshold = std::numeric_limits<double>::infinity();
  SpqrLayer best = spqr_quantize(weight, rows, cols, hessian, options);
  if (fraction == 0) return best;
  // The fraction falls as tau grows (not strictly: the feedback moves later weights), so keep the
  // best run seen rather than trusting the last bracket.
  double lo = std::log(1e-4), hi = std::log(1e4);
  for (int step = 0; step < 16; ++step) {
    const double mid = (lo + hi) / 2;
    options.threshold = std::exp(mid);
    SpqrLayer layer = spqr_quantize(weight, rows, cols, hessian, options);
    const double f = layer.outlier_fraction();
    if (f <= fraction) {
      hi = mid;
      if (f > best.outlier_fraction() || (f == best.outlier_fraction() && layer.loss < best.loss)) best = std::move(layer);
    } else {
      lo = mid;
    }
  }
  return best;
}

double spqr_bits_per_weight(const SpqrOptions& o, double outlier_fraction) {
  const double b1 = static_cast<double>(o.beta1), b2 = static_cast<double>(o.beta2);
  return o.bits + 2.0 * o.stat_bits / b1 + 2.0 * (16 + 16) / (b1 * b2) + 32.0 * outlier_fraction;
}

}  // namespace qforge::ptq
