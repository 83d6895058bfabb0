#include "ptq/inverse_hessian.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace qforge::ptq {

// With J the reversal permutation and J H J = L L^T, H^-1 = J L^-T L^-1 J = (J L^-1 J)^T (J L^-1 J), and
// J L^-1 J is upper triangular with a positive diagonal: by uniqueness it is U. One Cholesky and one
// triangular inverse (2/3 n^3 flops) instead of the reference's Cholesky, inverse and second Cholesky
// (8/3 n^3); the same U to rounding (tests/ptq/test_gptq.cpp: codes identical to the reference's).
// In place where it can be (the Cholesky factor in h's own storage, the reversals in place): two n x n
// matrices at the peak, not six (a 2816-column down_proj: 130 MB instead of 380 MB).
HessianMatrix inverse_hessian_factor(HessianMatrix h, double damp, const char* method) {
  h.diagonal().array() += damp * h.diagonal().mean();
  const Eigen::Index n = h.rows();
  h.reverseInPlace();  // J H J: rows and columns reversed
  Eigen::LLT<Eigen::Ref<HessianMatrix>> llt(h);
  if (llt.info() != Eigen::Success)
    throw std::invalid_argument(std::string(method) + ": the damped Hessian is not positive definite (raise damp)");
  // L^-1 by column blocks: block k of the identity has zeros above row k0, and so has its solution,
  // so only L's trailing corner takes part (n^3 / 3 flops instead of a full solve's n^3).
  HessianMatrix inverse = HessianMatrix::Zero(n, n);
  constexpr Eigen::Index kBlock = 256;
  for (Eigen::Index k0 = 0; k0 < n; k0 += kBlock) {
    const Eigen::Index width = std::min(kBlock, n - k0), tail = n - k0;
    auto block = inverse.block(k0, k0, tail, width);
    block.topRows(width).setIdentity();
    h.bottomRightCorner(tail, tail).triangularView<Eigen::Lower>().solveInPlace(block);  // h holds L below
  }
  inverse.reverseInPlace();  // J L^-1 J
  return inverse;
}

std::vector<int32_t> column_order(const HessianMatrix& h, bool act_order) {
  return column_order(Eigen::VectorXd(h.diagonal()), act_order);
}

std::vector<int32_t> column_order(const Eigen::VectorXd& diagonal, bool act_order) {
  std::vector<int32_t> order(static_cast<size_t>(diagonal.size()));
  std::iota(order.begin(), order.end(), 0);
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return diagonal(a) > diagonal(b); });
  return order;
}

}  // namespace qforge::ptq
