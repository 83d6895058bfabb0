#include "trainers/optimizer_factory.h"

#include <stdexcept>

#include "optim/adam.h"
#include "optim/sgd.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {

std::unique_ptr<optim::Optimizer> make_optimizer(const config::OptimizerConfig& c,
                                                 const std::vector<layers::Module::NamedParameter>& named) {
  std::vector<autograd::Variable> weights, quantizer;
  for (const auto& [name, param] : named) (is_quantizer_parameter(name) ? quantizer : weights).push_back(param);
  std::vector<optim::ParamGroup> params{optim::ParamGroup(weights)};
  if (!quantizer.empty()) params.emplace_back(quantizer, optim::kFromOptions, 0.0);
  const double lr = c.lr() > 0 ? c.lr() : 1e-3;
  const double beta1 = c.beta1() > 0 ? c.beta1() : 0.9, beta2 = c.beta2() > 0 ? c.beta2() : 0.999;
  const double eps = c.eps() > 0 ? c.eps() : 1e-8;
  const std::string name = c.name().empty() ? "adamw" : c.name();
  if (name == "sgd") {
    return std::make_unique<optim::Sgd>(
        params, optim::SgdOptions(lr).momentum(c.momentum()).nesterov(c.nesterov()).weight_decay(c.weight_decay()));
  }
  if (name == "adam") {
    return std::make_unique<optim::Adam>(
        params, optim::AdamOptions(lr).beta1(beta1).beta2(beta2).eps(eps).weight_decay(c.weight_decay()));
  }
  if (name == "adamw") {
    return std::make_unique<optim::AdamW>(
        params, optim::AdamWOptions(lr).beta1(beta1).beta2(beta2).eps(eps).weight_decay(c.weight_decay()));
  }
  throw std::invalid_argument("optimizer.name: '" + name + "' is not sgd, adam or adamw");
}

std::unique_ptr<optim::LrSchedule> make_schedule(const config::ScheduleConfig& c, const config::OptimizerConfig& opt,
                                                 int64_t total_steps) {
  const std::string kind = c.kind().empty() ? "constant" : c.kind();
  if (kind == "constant") return std::make_unique<optim::ConstantSchedule>();
  if (kind == "warmup") return std::make_unique<optim::LinearWarmupSchedule>(c.warmup_steps());
  if (kind == "cosine") {
    const double lr = opt.lr() > 0 ? opt.lr() : 1e-3;
    return std::make_unique<optim::CosineSchedule>(c.warmup_steps(), total_steps, c.min_lr() / lr);
  }
  throw std::invalid_argument("schedule.kind: '" + kind + "' is not constant, warmup or cosine");
}

}  // namespace qforge::trainers
