#include "trainers/optimizer_factory.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

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

namespace {

std::string printf_value(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

void require(bool ok, const std::string& field, double value, const char* what) {
  if (!ok) throw std::invalid_argument(field + ": " + printf_value(value) + " " + what);
}

}  // namespace

void check_training_numbers(const config::RunConfig& config) {
  const config::OptimizerConfig& o = config.optimizer();
  const auto non_negative = [](double v) { return std::isfinite(v) && v >= 0; };
  const auto unit = [](double v) { return std::isfinite(v) && v >= 0 && v < 1; };
  require(non_negative(o.lr()), "optimizer.lr", o.lr(), "is not a learning rate (a finite number > 0; 0: 1e-3)");
  require(non_negative(o.weight_decay()), "optimizer.weight_decay", o.weight_decay(), "is not a finite number >= 0");
  require(non_negative(o.eps()), "optimizer.eps", o.eps(), "is not a finite number >= 0 (0: 1e-8)");
  require(non_negative(o.clip_grad_norm()), "optimizer.clip_grad_norm", o.clip_grad_norm(), "is not a finite number >= 0 (0: no clipping)");
  require(unit(o.beta1()), "optimizer.beta1", o.beta1(), "is not in [0, 1) (0: 0.9)");
  require(unit(o.beta2()), "optimizer.beta2", o.beta2(), "is not in [0, 1) (0: 0.999)");
  require(unit(o.momentum()), "optimizer.momentum", o.momentum(), "is not in [0, 1)");
  require(non_negative(config.schedule().min_lr()), "schedule.min_lr", config.schedule().min_lr(), "is not a finite number >= 0");
  require(config.schedule().warmup_steps() >= 0, "schedule.warmup_steps", config.schedule().warmup_steps(), "is negative");
  const config::TrainerConfig& t = config.trainer();
  const std::pair<const char*, double> counts[] = {
      {"trainer.steps", static_cast<double>(t.steps())}, {"trainer.epochs", static_cast<double>(t.epochs())},
      {"trainer.eval_every", static_cast<double>(t.eval_every())}, {"trainer.eval_batches", static_cast<double>(t.eval_batches())},
      {"trainer.log_every", static_cast<double>(t.log_every())}, {"trainer.checkpoint_every", static_cast<double>(t.checkpoint_every())},
      {"data.batch_size", static_cast<double>(config.data().batch_size())}};
  for (const auto& [field, value] : counts) require(value >= 0, field, value, "is negative (0: the default)");
}

}  // namespace qforge::trainers
