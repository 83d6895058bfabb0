#include "ptq/hessian_factor.h"

#include <Eigen/Cholesky>
#include <stdexcept>

namespace qforge::ptq {

HessianMatrix inverse_hessian_factor(HessianMatrix h, double damp) {
  h.diagonal().array() += damp * h.diagonal().mean();
  Eigen::LLT<HessianMatrix> llt(h);
  if (llt.info() != Eigen::Success) throw std::invalid_argument("gptq: the damped Hessian is not positive definite (raise damp)");
  const HessianMatrix inverse = llt.solve(HessianMatrix::Identity(h.rows(), h.cols()));
  Eigen::LLT<HessianMatrix> factor(inverse);
  if (factor.info() != Eigen::Success) throw std::invalid_argument("gptq: H^-1 is not positive definite (raise damp)");
  return factor.matrixU();
}

}  // namespace qforge::ptq
