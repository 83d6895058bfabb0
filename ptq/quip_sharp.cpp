// QuIP# on one layer (quip_sharp.h): incoherence processing, block LDL, BlockLDLQ with E8P.
#include "ptq/quip_sharp.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/LU>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fakequant/formats/e8p.h"
#include "fakequant/hadamard.h"

namespace qforge::ptq {
using namespace qforge::fakequant;  // the E8P codebook and the Hadamard transforms
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check(int64_t rows, int64_t cols, size_t weights, size_t h, size_t su, size_t sv, const QuipSharpOptions& options) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument("quip_sharp: " + what); };
  if (rows <= 0 || cols <= 0 || weights != static_cast<size_t>(rows * cols))
    fail("weight has " + std::to_string(weights) + " values, not rows " + std::to_string(rows) + " x cols " + std::to_string(cols));
  if (h != static_cast<size_t>(cols * cols)) fail("Hessian has " + std::to_string(h) + " values, not cols^2 = " + std::to_string(cols * cols));
  if (cols % kE8pDim != 0) fail("cols " + std::to_string(cols) + " is not a multiple of 8 (one E8P code per 8 inputs)");
  if (su != static_cast<size_t>(cols) || sv != static_cast<size_t>(rows)) fail("sign vectors do not match the weight's shape");
  if (!(options.damp >= 0)) fail("damp " + std::to_string(options.damp) + " must be >= 0");
  if (options.tune_iterations < 0) fail("tune iterations " + std::to_string(options.tune_iterations) + " must be >= 0");
  if (!(options.opt_scale > 0)) fail("opt_scale " + std::to_string(options.opt_scale) + " must be > 0");
  (void)hadamard_factor(rows), (void)hadamard_factor(cols);  // refuse sizes without a transform
}

// Every row of m (as a vector) through T (or T^T); `columns` does the columns instead.
void transform_rows(Matrix& m, const HadamardTransform& t, bool transpose) {
  for (Eigen::Index r = 0; r < m.rows(); ++r) t.apply(m.row(r).data(), transpose);
}
void transform_columns(Matrix& m, const HadamardTransform& t, bool transpose) {
  Matrix mt = m.transpose();
  transform_rows(mt, t, transpose);
  m = mt.transpose();
}

Eigen::VectorXd as_vector(const std::vector<int8_t>& s) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(s.size()));
  for (size_t i = 0; i < s.size(); ++i) v[static_cast<Eigen::Index>(i)] = s[i];
  return v;
}

// L with identity 8 x 8 diagonal blocks such that H = L D L^T (D block diagonal): the Cholesky
// factor with each block column multiplied by the inverse of its diagonal block (QuIP# §4.1).
Matrix block_ldl(const Matrix& h) {
  Eigen::LLT<Matrix> llt(h);
  if (llt.info() != Eigen::Success) throw std::invalid_argument("quip_sharp: the damped Hessian is not positive definite (raise damp)");
  Matrix l = llt.matrixL();
  for (Eigen::Index k = 0; k < h.rows(); k += kE8pDim) {
    const Matrix inverse = l.block(k, k, kE8pDim, kE8pDim).inverse();
    l.middleCols(k, kE8pDim) = (l.middleCols(k, kE8pDim) * inverse).eval();
  }
  return l;
}

// Rounds every row of `target` (rows x 8) to its nearest codeword: codes into column `k` of `codes`,
// codewords into columns [8k, 8k + 8) of q.
void round_block(const Matrix& target, Eigen::Index k, Matrix& q, std::vector<uint16_t>& codes) {
  const Eigen::Index blocks = q.cols() / kE8pDim;
  for (Eigen::Index r = 0; r < target.rows(); ++r) {
    const uint16_t code = e8p_nearest(target.row(r).data());
    codes[r * blocks + k] = code;
    const auto value = e8p_decode(code);
    for (int i = 0; i < kE8pDim; ++i) q(r, k * kE8pDim + i) = value[i];
  }
}

// BlockLDLQ on the normalized W' (QuIP# Algorithm 2 with the block order of quip-sharp's LDLQ):
// codes [rows, cols / 8] and the decoded W'_hat.
Matrix block_ldlq(const Matrix& w, const Matrix& l, std::vector<uint16_t>& codes) {
  const Eigen::Index rows = w.rows(), cols = w.cols(), blocks = cols / kE8pDim;
  Matrix q = Matrix::Zero(rows, cols), error = Matrix::Zero(rows, cols);
  codes.assign(static_cast<size_t>(rows * blocks), 0);
  for (Eigen::Index k = blocks - 1; k >= 0; --k) {
    const Eigen::Index c = k * kE8pDim, later = cols - c - kE8pDim;
    Matrix target = w.middleCols(c, kE8pDim);
    if (later > 0) target.noalias() += error.rightCols(later) * l.block(c + kE8pDim, c, later, kE8pDim);
    round_block(target, k, q, codes);
    error.middleCols(c, kE8pDim) = w.middleCols(c, kE8pDim) - q.middleCols(c, kE8pDim);
  }
  return q;
}

// quip-sharp's optional refinement after LDLQ (quip_tune_iters): block coordinate descent on
// tr((W' - Q') H' (W' - Q')^T), each 8-column block in the same order moved to the rounding of its
// unconstrained minimizer given the others, Q'_k + (W' - Q') H'_{:,k} (H'_{kk})^-1.
void tune(const Matrix& w, const Matrix& h, int iterations, Matrix& q, std::vector<uint16_t>& codes) {
  const Eigen::Index cols = w.cols(), blocks = cols / kE8pDim;
  Matrix delta = w - q;
  for (int it = 0; it < iterations; ++it) {
    for (Eigen::Index k = blocks - 1; k >= 0; --k) {
      const Eigen::Index c = k * kE8pDim;
      const Matrix step = h.middleCols(c, kE8pDim) * h.block(c, c, kE8pDim, kE8pDim).inverse();
      const Matrix old = q.middleCols(c, kE8pDim);
      const Matrix target = old + delta * step;
      round_block(target, k, q, codes);
      delta.middleCols(c, kE8pDim) += old - q.middleCols(c, kE8pDim);
    }
  }
}

}  // namespace

QuipSharpLayer quip_sharp_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                                   const QuipSharpOptions& options) {
  return quip_sharp_quantize(weight, rows, cols, hessian, random_signs(cols, options.seed), random_signs(rows, options.seed + 1),
                             options);
}

QuipSharpLayer quip_sharp_quantize(std::span<const float> weight, int64_t rows, int64_t cols, std::span<const double> hessian,
                                   std::vector<int8_t> su, std::vector<int8_t> sv, const QuipSharpOptions& options) {
  check(rows, cols, weight.size(), hessian.size(), su.size(), sv.size(), options);
  const HadamardTransform t_in(cols), t_out(rows);
  const Eigen::VectorXd s_u = as_vector(su), s_v = as_vector(sv);
  // W' = T_out diag(SV) W diag(SU) T_in^T: rows through T_in, then columns through T_out.
  Matrix w = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(weight.data(), rows, cols)
                 .cast<double>();
  w = s_v.asDiagonal() * w * s_u.asDiagonal();
  transform_rows(w, t_in, false);
  transform_columns(w, t_out, false);
  // H' = T_in diag(SU) H diag(SU) T_in^T, damped (the damping commutes with the orthogonal transform).
  Matrix h = s_u.asDiagonal() * Eigen::Map<const Matrix>(hessian.data(), cols, cols) * s_u.asDiagonal();
  transform_columns(h, t_in, false);
  transform_rows(h, t_in, false);
  h = (0.5 * (h + h.transpose())).eval();
  const double mean_diag = h.diagonal().mean();
  h.diagonal().array() += mean_diag > 0 ? options.damp * mean_diag : 1.0;

  QuipSharpLayer out;
  out.su = std::move(su), out.sv = std::move(sv);
  const double rms = std::sqrt(w.squaredNorm() / static_cast<double>(w.size()));
  out.wscale = static_cast<float>(rms > 0 ? rms / options.opt_scale : 1.0);
  const Matrix wn = w / out.wscale;
  Matrix q = block_ldlq(wn, block_ldl(h), out.codes);
  tune(wn, h, options.tune_iterations, q, out.codes);
  q *= out.wscale;
  const Matrix e = w - q;
  out.proxy_loss = (e * h).cwiseProduct(e).sum();
  out.weight = quip_sharp_dequantize(out, rows, cols);
  return out;
}

QuipSharpState quip_sharp_state(const QuipSharpLayer& layer, int64_t rows, int64_t cols) {
  QuipSharpState s;
  s.rows = rows, s.cols = cols;
  s.codes.assign(layer.codes.begin(), layer.codes.end());
  s.su.assign(layer.su.begin(), layer.su.end()), s.sv.assign(layer.sv.begin(), layer.sv.end());
  s.wscale = layer.wscale;
  return s;
}

std::vector<float> quip_sharp_dequantize(const QuipSharpLayer& layer, int64_t rows, int64_t cols) {
  return quip_sharp_weight(quip_sharp_state(layer, rows, cols));
}

}  // namespace qforge::ptq
