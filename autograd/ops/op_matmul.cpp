// Batched matrix product with optional transposes. With C = op(A) op(B):
//   d op(A) = dC op(B)^T,   d op(B) = op(A)^T dC,
// and a stored-transposed operand's gradient is the transpose of that, which the GEMM flags absorb.
#include <stdexcept>
#include <string>

#include "autograd/kernels/gemm.h"
#include "autograd/kernels/reduce.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

struct Operand {
  Tensor data;      // [batch.., rows, cols] as stored, or [rows, cols] when shared
  bool transposed;  // use data^T
  bool shared;      // one matrix used by every batch (stride 0)
  int64_t rows() const { return data.dim(-2); }
  int64_t cols() const { return data.dim(-1); }
  int64_t op_rows() const { return transposed ? cols() : rows(); }
  int64_t op_cols() const { return transposed ? rows() : cols(); }
};

Shape batch_shape(const Shape& s) { return Shape(std::vector<int64_t>(s.begin(), s.end() - 2)); }

Shape with_matrix(const Shape& batch, int64_t rows, int64_t cols) {
  std::vector<int64_t> dims = batch.to_vector();
  dims.push_back(rows);
  dims.push_back(cols);
  return Shape(dims);
}

// op(a) [.., m, k] times op(b) [.., k, n] into [batch.., m, n].
Tensor batched_product(const Operand& a, const Operand& b, const Shape& batch) {
  const int64_t m = a.op_rows(), k = a.op_cols(), n = b.op_cols();
  Tensor out(with_matrix(batch, m, n));
  const int64_t count = batch.numel();
  if (b.shared && !a.transposed && !a.shared) {
    // Linear layers: the batch folds into m, giving one large GEMM.
    kernels::gemm(false, b.transposed, count * m, n, k, 1.0f, a.data.data(), a.cols(), b.data.data(), b.cols(), 0.0f,
                  out.data(), n);
    return out;
  }
  kernels::gemm_batched(a.transposed, b.transposed, m, n, k, 1.0f, a.data.data(), a.cols(),
                        a.shared ? 0 : a.rows() * a.cols(), b.data.data(), b.cols(),
                        b.shared ? 0 : b.rows() * b.cols(), 0.0f, out.data(), n, m * n, count);
  return out;
}

// sum over the batch of op(lhs) op(rhs): the gradient of a shared operand.
Tensor summed_product(const Operand& lhs, const Operand& rhs, const Shape& batch) {
  const int64_t m = lhs.op_rows(), n = rhs.op_cols();
  if (lhs.transposed && !rhs.transposed && !lhs.shared && !rhs.shared) {
    // Both batches stack along the contracted axis: one GEMM with k = batch * rows.
    Tensor out(Shape{m, n});
    kernels::gemm(true, false, m, n, batch.numel() * lhs.rows(), 1.0f, lhs.data.data(), lhs.cols(), rhs.data.data(),
                  rhs.cols(), 0.0f, out.data(), n);
    return out;
  }
  Tensor per_batch = batched_product(lhs, rhs, batch);
  return kernels::sum_to_shape(per_batch, Shape{m, n});
}

Operand prepare(const Tensor& t, bool transposed, const Shape& batch) {
  if (batch_shape(t.shape()).numel() == 1 && batch.numel() > 1) {
    return {t.reshaped({t.dim(-2), t.dim(-1)}), transposed, true};
  }
  const Shape full = with_matrix(batch, t.dim(-2), t.dim(-1));
  // Same element count: only leading 1s differ (e.g. W [out, in] against x [1, t, in]), so a view
  // serves; broadcast_to would copy the whole matrix (a 32000-row lm_head: 98 MB per forward).
  if (batch_shape(t.shape()).numel() == batch.numel()) return {t.reshaped(full.to_vector()), transposed, false};
  return {kernels::broadcast_to(t, full), transposed, false};
}

// Gradient of one operand given the other (`other`) and dC, in the operand's stored layout.
Tensor operand_gradient(const Operand& self, const Operand& other, const Tensor& g, bool self_is_lhs,
                        const Shape& batch) {
  const Operand grad{g, false, false}, grad_t{g, true, false};
  Operand lhs, rhs;
  if (self_is_lhs) {
    // dA = dC op(B)^T; stored-transposed A: dA^T = op(B) dC^T.
    if (self.transposed) lhs = other, rhs = grad_t;
    else lhs = grad, rhs = Operand{other.data, !other.transposed, other.shared};
  } else {
    // dB = op(A)^T dC; stored-transposed B: dB^T = dC^T op(A).
    if (self.transposed) lhs = grad_t, rhs = other;
    else lhs = Operand{other.data, !other.transposed, other.shared}, rhs = grad;
  }
  return self.shared ? summed_product(lhs, rhs, batch) : batched_product(lhs, rhs, batch);
}

}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool transpose_a, bool transpose_b) {
  if (a.ndim() < 2 || b.ndim() < 2) {
    throw std::invalid_argument("matmul: operands need at least 2 dimensions, got " + a.shape().to_string() +
                                " and " + b.shape().to_string());
  }
  const int64_t k_a = transpose_a ? a.dim(-2) : a.dim(-1), k_b = transpose_b ? b.dim(-1) : b.dim(-2);
  if (k_a != k_b) {
    throw std::invalid_argument("matmul: inner dimensions differ: " + a.shape().to_string() +
                                (transpose_a ? "^T" : "") + " x " + b.shape().to_string() +
                                (transpose_b ? "^T" : "") + " (" + std::to_string(k_a) + " != " +
                                std::to_string(k_b) + ")");
  }
  const Shape batch = broadcast_shapes(batch_shape(a.shape()), batch_shape(b.shape()), "matmul");
  const Operand pa = prepare(a.data(), transpose_a, batch), pb = prepare(b.data(), transpose_b, batch);
  Tensor out = batched_product(pa, pb, batch);
  auto backward = [pa, pb, batch](std::vector<Variable>& in, const Tensor& g) {
    if (in[0].requires_grad()) {
      in[0].add_grad(kernels::sum_to_shape(operand_gradient(pa, pb, g, true, batch), in[0].shape())
                         .reshaped(in[0].shape().to_vector()));
    }
    if (in[1].requires_grad()) {
      in[1].add_grad(kernels::sum_to_shape(operand_gradient(pb, pa, g, false, batch), in[1].shape())
                         .reshaped(in[1].shape().to_vector()));
    }
  };
  return Variable(out, {a, b}, backward, "matmul");
}

}  // namespace qforge::autograd
