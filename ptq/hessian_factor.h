#pragma once
// The inverse-Hessian machinery GPTQ's column loops share (ptq/gptq.cpp on an integer grid,
// ptq/gptq_ggml.cpp on a ggml codec's grid); Frantar et al. 2022, §4 "Cholesky Reformulation". Private
// to ptq/ (Eigen types).
#include <Eigen/Core>

namespace qforge::ptq {

using HessianMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Upper Cholesky factor U of H^-1 (H^-1 = U^T U) after dampening: damp * mean(diag H) is added to the
// diagonal first. std::invalid_argument "gptq: ... (raise damp)" when either matrix is not positive definite.
HessianMatrix inverse_hessian_factor(HessianMatrix h, double damp);

}  // namespace qforge::ptq
