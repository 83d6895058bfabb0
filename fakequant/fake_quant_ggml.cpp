#include "fakequant/fake_quant_ggml.h"

#include <stdexcept>
#include <string>

#include "fakequant/fake_quant_internal.h"

namespace qforge::fakequant {

using autograd::Tensor;
using autograd::Variable;

Variable fake_quant_ggml(const Variable& x, const ggml::BlockType& type, const std::string& context,
                         const float* importance) {
  if (!x.defined() || !x.data().defined()) throw std::invalid_argument(context + ": fake_quant_ggml of an undefined Variable");
  if (x.ndim() < 1) throw std::invalid_argument(context + ": GGUF block types quantize rows; got a scalar");
  const int64_t k = x.dim(-1);
  if (k == 0 || k % type.block_elements != 0) {
    throw std::invalid_argument(context + ": rows of " + std::to_string(k) + " values do not fill " + type.name +
                                " blocks of " + std::to_string(type.block_elements));
  }
  if (type.needs_importance && importance == nullptr) {  // checked here: a throw inside the OpenMP loop would abort
    throw std::invalid_argument(context + ": " + type.name + " needs an importance matrix (as llama.cpp refuses it without one)");
  }
  const int64_t rows = x.numel() / k;
  Tensor out(x.shape());
  const float* in = x.data().data();
  float* y = out.data();
#pragma omp parallel for schedule(static) if (rows > 1)
  for (int64_t r = 0; r < rows; ++r) ggml::fake_quantize_row(type, in + r * k, y + r * k, k, importance);
  return detail::straight_through_result(std::move(out), x, nullptr, "fake_quant_ggml");
}

}  // namespace qforge::fakequant
