#pragma once
// Optimizer and learning-rate schedule from the run config (defaults as documented in
// run_config.proto).
#include <memory>
#include <vector>

#include "autograd/variable.h"
#include "layers/module.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

// Parameters named as a quantizer's (learned LSQ/PACT scales) go into a second group without weight
// decay: decaying a step size towards 0 would fight the quantization it learns.
std::unique_ptr<optim::Optimizer> make_optimizer(const config::OptimizerConfig& config,
                                                 const std::vector<layers::Module::NamedParameter>& params);
// std::invalid_argument naming the field when a number of the run makes no sense: a learning rate,
// weight decay, eps or clipping norm that is negative or not finite, betas or momentum outside [0, 1),
// negative steps, epochs, batch size, warmup or logging intervals (0 keeps meaning "the default").
void check_training_numbers(const config::RunConfig& config);

std::unique_ptr<optim::LrSchedule> make_schedule(const config::ScheduleConfig& config, const config::OptimizerConfig& opt,
                                                 int64_t total_steps);

}  // namespace qforge::trainers
