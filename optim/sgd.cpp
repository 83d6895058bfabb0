#include "optim/sgd.h"

#include <stdexcept>
#include <string>

#include "optim/parallel.h"

namespace qforge::optim {

namespace {

// Momentum needs one buffer ("momentum_buffer", torch's name); plain SGD needs none.
std::vector<std::string> sgd_slots(const SgdOptions& options) {
  if (options.momentum() < 0.0) {
    throw std::invalid_argument("SGD: momentum " + std::to_string(options.momentum()) + " is negative");
  }
  if (options.nesterov() && (options.momentum() <= 0.0 || options.dampening() != 0.0)) {
    throw std::invalid_argument("SGD: Nesterov needs momentum > 0 and dampening 0, got momentum " +
                                std::to_string(options.momentum()) + " and dampening " +
                                std::to_string(options.dampening()));
  }
  if (options.momentum() == 0.0) return {};
  return {"momentum_buffer"};
}

}  // namespace

Sgd::Sgd(std::vector<ParamGroup> groups, SgdOptions options)
    : Optimizer("SGD", std::move(groups), options.lr(), options.weight_decay(), sgd_slots(options)),
      options_(options) {}

Sgd::Sgd(const std::vector<autograd::Variable>& params, SgdOptions options)
    : Sgd(std::vector<ParamGroup>{ParamGroup(params)}, options) {}

void Sgd::update(const ParamGroup& group, ParamState& state, float* param, const float* grad, int64_t n) {
  const float lr = static_cast<float>(group.lr);
  const float decay = static_cast<float>(group.weight_decay);
  if (options_.momentum() == 0.0) {
#pragma omp parallel for simd schedule(static) if (n > detail::kParallelThreshold)
    for (int64_t i = 0; i < n; ++i) param[i] -= lr * (grad[i] + decay * param[i]);
    return;
  }
  const float momentum = static_cast<float>(options_.momentum());
  const float keep = static_cast<float>(1.0 - options_.dampening());
  const bool first = state.steps == 1;  // torch starts the buffer at d itself, undamped
  const bool nesterov = options_.nesterov();
  float* buffer = state.slots[0].data();
#pragma omp parallel for simd schedule(static) if (n > detail::kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const float d = grad[i] + decay * param[i];
    buffer[i] = first ? d : momentum * buffer[i] + keep * d;
    param[i] -= lr * (nesterov ? d + momentum * buffer[i] : buffer[i]);
  }
}

}  // namespace qforge::optim
