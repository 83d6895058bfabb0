// GPTQ on one layer (gptq.h): Hessian accumulation (float32 batch products on the GEMM kernel, a double
// running mean), then Algorithm 1 of Frantar et al. 2022 with lazy batch updates, in double precision
// (Eigen, private to this file).
#include "ptq/gptq.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/kernels/gemm.h"
#include "ptq/inverse_hessian.h"

namespace qforge::ptq {
namespace {

using Matrix = HessianMatrix;

// Scale and zero point of every row for one group of columns.
struct GroupParams {
  Eigen::VectorXd scale, zero;
};

// The grid of gptq.h over columns [begin, end) of w, row by row.
GroupParams find_params(const Matrix& w, int64_t begin, int64_t end, const IntGrid& grid) {
  const double maxq = std::ldexp(1.0, grid.bits) - 1.0;
  GroupParams p{Eigen::VectorXd(w.rows()), Eigen::VectorXd(w.rows())};
  for (Eigen::Index r = 0; r < w.rows(); ++r) {
    const auto group = w.row(r).segment(begin, end - begin);
    double xmin = std::min(group.minCoeff(), 0.0), xmax = std::max(group.maxCoeff(), 0.0);
    if (grid.symmetric) {
      xmax = std::max(std::abs(xmin), xmax);
      if (xmin < 0) xmin = -xmax;
    }
    if (xmin == 0 && xmax == 0) xmin = -1, xmax = 1;
    p.scale[r] = (xmax - xmin) / maxq;
    p.zero[r] = grid.symmetric ? (maxq + 1) / 2 : std::nearbyint(-xmin / p.scale[r]);
  }
  return p;
}

// q = clamp(round(w / scale) + zero, 0, maxq): a true division, ties to even (torch.round).
double code_of(double w, double scale, double zero, double maxq) {
  return std::clamp(std::nearbyint(w / scale) + zero, 0.0, maxq);
}

void check(const IntGrid& grid, const GptqOptions& options, int64_t rows, int64_t cols, size_t weights, size_t h) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument("gptq: " + what); };
  if (rows <= 0 || cols <= 0 || weights != static_cast<size_t>(rows * cols))
    fail("weight has " + std::to_string(weights) + " values, not rows " + std::to_string(rows) + " x cols " + std::to_string(cols));
  if (h != static_cast<size_t>(cols * cols)) fail("Hessian has " + std::to_string(h) + " values, not cols^2 = " + std::to_string(cols * cols));
  if (grid.bits < 2 || grid.bits > 8) fail("bits " + std::to_string(grid.bits) + " not in 2..8");
  if (grid.group_size < 0) fail("group size " + std::to_string(grid.group_size) + " is negative");
  if (options.block_size <= 0) fail("block size " + std::to_string(options.block_size) + " must be positive");
  if (!(options.damp >= 0)) fail("damp " + std::to_string(options.damp) + " must be >= 0");
  if (options.static_groups && grid.group_size == 0) fail("static groups need a group size");
}

}  // namespace

HessianAccumulator::HessianAccumulator(int64_t columns)
    : columns_(columns), h_(static_cast<size_t>(columns * columns), 0.0) {
  if (columns <= 0) throw std::invalid_argument("gptq: Hessian of " + std::to_string(columns) + " columns");
}

void HessianAccumulator::add(std::span<const float> rows) {
  if (rows.size() % static_cast<size_t>(columns_) != 0)
    throw std::invalid_argument("gptq: " + std::to_string(rows.size()) + " input values are not rows of " +
                                std::to_string(columns_));
  const int64_t n = static_cast<int64_t>(rows.size()) / columns_;
  if (n == 0) return;
  // The batch's X^T X in float32 on the GEMM kernel, upper-triangular tiles only (a SYRK: half the
  // flops of the full product), then folded into the double running mean
  // H_new = H_old * old / (old + n) + 2 / (old + n) * X^T X. The float32 batch product is what the
  // reference implementations accumulate in; the mean over batches stays double.
  const int64_t c = columns_, tile = 256;
  scratch_.resize(static_cast<size_t>(c * c));
  for (int64_t i0 = 0; i0 < c; i0 += tile) {
    const int64_t m = std::min(tile, c - i0);
    autograd::kernels::gemm(true, false, m, c - i0, n, 1.0f, rows.data() + i0, c, rows.data() + i0, c, 0.0f,
                            scratch_.data() + i0 * c + i0, c);
  }
  const double keep = static_cast<double>(samples_) / static_cast<double>(samples_ + n);
  samples_ += n;
  const double add = 2.0 / static_cast<double>(samples_);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < c; ++i) {
    for (int64_t j = i; j < c; ++j) h_[i * c + j] = h_[i * c + j] * keep + add * static_cast<double>(scratch_[i * c + j]);
  }
  lower_stale_ = true;
}

const std::vector<double>& HessianAccumulator::matrix() const {
  if (lower_stale_) {  // the lower triangle mirrors the upper one that add() keeps
    const int64_t c = columns_;
    for (int64_t i = 0; i < c; ++i)
      for (int64_t j = 0; j < i; ++j) h_[i * c + j] = h_[j * c + i];
    lower_stale_ = false;
  }
  return h_;
}

GptqLayer gptq_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                        const IntGrid& grid, const GptqOptions& options) {
  check(grid, options, rows, cols, weight.size(), hessian.size());
  const double maxq = std::ldexp(1.0, grid.bits) - 1.0;
  const int64_t group_size = grid.group_size > 0 ? grid.group_size : cols;
  Matrix w = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(weight.data(), rows, cols)
                 .cast<double>();
  const Eigen::Map<const Matrix> h(hessian.data(), cols, cols);  // read in place: no n x n copy
  Eigen::VectorXd diagonal = h.diagonal();
  GroupParams params = find_params(w, 0, cols, grid);  // per row, before dead inputs are zeroed (as the reference)
  for (int64_t c = 0; c < cols; ++c) {
    if (diagonal(c) == 0) diagonal(c) = 1, w.col(c).setZero();  // an input that is always 0: nothing to preserve
  }
  std::vector<GroupParams> fixed;  // static groups: from the unmodified weight, in the original column order
  if (options.static_groups)
    for (int64_t g = 0; g < cols; g += group_size) fixed.push_back(find_params(w, g, std::min(g + group_size, cols), grid));

  GptqLayer out;
  out.order = column_order(diagonal, options.act_order);
  Matrix wp(rows, cols), hp(cols, cols);
  for (int64_t j = 0; j < cols; ++j) {
    wp.col(j) = w.col(out.order[j]);
    for (int64_t k = 0; k < cols; ++k) hp(j, k) = h(out.order[j], out.order[k]);
    hp(j, j) = diagonal(out.order[j]);
  }
  const Matrix u = inverse_hessian_factor(std::move(hp), options.damp);

  const int64_t groups = (cols + group_size - 1) / group_size;
  Matrix q(rows, cols), codes(rows, cols);
  out.scales.assign(static_cast<size_t>(rows * groups), 0.0f);
  out.zeros.assign(static_cast<size_t>(rows * groups), 0.0f);
  out.group_index.assign(static_cast<size_t>(cols), 0);
  for (int64_t i1 = 0; i1 < cols; i1 += options.block_size) {
    const int64_t i2 = std::min(i1 + options.block_size, cols), count = i2 - i1;
    Matrix block = wp.middleCols(i1, count), errors(rows, count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i;  // position in GPTQ's order
      const int32_t column = out.order[j];
      int64_t group = 0;
      if (grid.group_size > 0) {
        if (options.static_groups) {
          group = column / group_size;
          params = fixed[group];
        } else {
          group = j / group_size;
          if (j % group_size == 0) params = find_params(wp, j, std::min(j + group_size, cols), grid);  // stale: see gptq.h
        }
      }
      out.group_index[column] = static_cast<int32_t>(group);
      const double d = u(j, j);
      for (int64_t r = 0; r < rows; ++r) {
        const double value = block(r, i);
        const double code = code_of(value, params.scale[r], params.zero[r], maxq);
        const double dequantized = params.scale[r] * (code - params.zero[r]);
        q(r, column) = dequantized;
        codes(r, column) = code;
        out.scales[r * groups + group] = static_cast<float>(params.scale[r]);
        out.zeros[r * groups + group] = static_cast<float>(params.zero[r]);
        out.loss += (value - dequantized) * (value - dequantized) / (d * d) / 2;
        errors(r, i) = (value - dequantized) / d;
      }
      block.rightCols(count - i).noalias() -= errors.col(i) * u.row(j).segment(j, count - i);
    }
    if (i2 < cols) wp.rightCols(cols - i2).noalias() -= errors * u.block(i1, i2, count, cols - i2);
  }
  out.weight.resize(static_cast<size_t>(rows * cols));
  out.codes.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      out.weight[r * cols + c] = static_cast<float>(q(r, c));
      out.codes[r * cols + c] = static_cast<int32_t>(codes(r, c));
    }
  }
  return out;
}

}  // namespace qforge::ptq
