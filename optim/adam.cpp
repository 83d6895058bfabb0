#include "optim/adam.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "optim/parallel.h"

namespace qforge::optim {

namespace {

// The shared hyperparameters of Adam and AdamW after validation.
struct AdamConstants {
  double beta1, beta2, eps;
};

template <class Options>
std::vector<std::string> adam_slots(const char* name, const Options& options) {
  for (const auto& [label, beta] : {std::pair{"beta1", options.beta1()}, std::pair{"beta2", options.beta2()}}) {
    if (!(beta >= 0.0 && beta < 1.0)) {
      throw std::invalid_argument(std::string(name) + ": " + label + " " + std::to_string(beta) + " is not in [0, 1)");
    }
  }
  if (!(options.eps() >= 0.0)) {
    throw std::invalid_argument(std::string(name) + ": eps " + std::to_string(options.eps()) + " is negative");
  }
  return {"exp_avg", "exp_avg_sq"};
}

// One Adam update of n values. `l2` is added to the gradient as l2 * p (Adam's weight decay);
// `keep` multiplies p first (AdamW's decoupled decay, 1 - lr * weight_decay). The float scalars
// are computed in double first, as PyTorch computes them in Python floats.
void adam_update(const AdamConstants& c, double lr, int64_t t, float l2, float keep, float* param, const float* grad,
                 float* exp_avg, float* exp_avg_sq, int64_t n) {
  const float beta1 = static_cast<float>(c.beta1), beta2 = static_cast<float>(c.beta2);
  const float one_minus_beta1 = static_cast<float>(1.0 - c.beta1);
  const float one_minus_beta2 = static_cast<float>(1.0 - c.beta2);
  const float step_size = static_cast<float>(lr / (1.0 - std::pow(c.beta1, static_cast<double>(t))));
  const float bias2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(c.beta2, static_cast<double>(t))));
  const float eps = static_cast<float>(c.eps);
#pragma omp parallel for simd schedule(static) if (n > detail::kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    const float p = param[i] * keep;
    const float g = grad[i] + l2 * p;
    exp_avg[i] = exp_avg[i] * beta1 + one_minus_beta1 * g;
    exp_avg_sq[i] = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    const float denom = std::sqrt(exp_avg_sq[i]) / bias2_sqrt + eps;
    param[i] = p - step_size * exp_avg[i] / denom;
  }
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options)
    : Optimizer("Adam", std::move(groups), options.lr(), options.weight_decay(), adam_slots("Adam", options)),
      options_(options) {}

Adam::Adam(const std::vector<autograd::Variable>& params, AdamOptions options)
    : Adam(std::vector<ParamGroup>{ParamGroup(params)}, options) {}

void Adam::update(const ParamGroup& group, ParamState& state, float* param, const float* grad, int64_t n) {
  const AdamConstants c{options_.beta1(), options_.beta2(), options_.eps()};
  adam_update(c, group.lr, state.steps, static_cast<float>(group.weight_decay), 1.0f, param, grad,
              state.slots[0].data(), state.slots[1].data(), n);
}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Optimizer("AdamW", std::move(groups), options.lr(), options.weight_decay(), adam_slots("AdamW", options)),
      options_(options) {}

AdamW::AdamW(const std::vector<autograd::Variable>& params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup>{ParamGroup(params)}, options) {}

void AdamW::update(const ParamGroup& group, ParamState& state, float* param, const float* grad, int64_t n) {
  const AdamConstants c{options_.beta1(), options_.beta2(), options_.eps()};
  const float keep = static_cast<float>(1.0 - group.lr * group.weight_decay);
  adam_update(c, group.lr, state.steps, 0.0f, keep, param, grad, state.slots[0].data(), state.slots[1].data(), n);
}

}  // namespace qforge::optim
