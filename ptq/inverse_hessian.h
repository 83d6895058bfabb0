#pragma once
// The pieces of GPTQ's layer algorithm (Frantar et al. 2022, Algorithm 1) that the methods built on it
// (ptq/gptq.cpp, ptq/spqr.cpp) share: the act-order column order and the upper Cholesky factor of the
// damped inverse Hessian. Internal to ptq/ (Eigen types; ptq links Eigen privately).
#include <Eigen/Core>
#include <cstdint>
#include <vector>

namespace qforge::ptq {

using HessianMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Upper Cholesky factor U of (H + damp * mean(diag H) I)^-1 (H^-1 = U^T U). std::invalid_argument
// naming `method` and suggesting a larger damp when the damped H or its inverse is not positive definite.
HessianMatrix inverse_hessian_factor(HessianMatrix h, double damp, const char* method = "gptq");

// Columns in descending diag(H) (act-order; stable, so equal entries keep their order), or 0..n-1.
std::vector<int32_t> column_order(const HessianMatrix& h, bool act_order);
// The same from diag(H) alone.
std::vector<int32_t> column_order(const Eigen::VectorXd& diagonal, bool act_order);

}  // namespace qforge::ptq
