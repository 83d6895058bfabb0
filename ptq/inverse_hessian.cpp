#include "ptq/inverse_hessian.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace qforge::ptq {

HessianMatrix inverse_hessian_factor(HessianMatrix h, double damp, const char* method) {
  h.diagonal().array() += damp * h.diagonal().mean();
  Eigen::LLT<HessianMatrix> llt(h);
  if (llt.info() != Eigen::Success)
    throw std::invalid_argument(std::string(method) + ": the damped Hessian is not positive definite (raise damp)");
  const HessianMatrix inverse = llt.solve(HessianMatrix::Identity(h.rows(), h.cols()));
  Eigen::LLT<HessianMatrix> factor(inverse);
  if (factor.info() != Eigen::Success) throw std::invalid_argument(std::string(method) + ": H^-1 is not positive definite (raise damp)");
  return factor.matrixU();
}

std::vector<int32_t> column_order(const HessianMatrix& h, bool act_order) {
  std::vector<int32_t> order(static_cast<size_t>(h.rows()));
  std::iota(order.begin(), order.end(), 0);
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return h(a, a) > h(b, b); });
  return order;
}

}  // namespace qforge::ptq
