#pragma once
// Optimizer and learning-rate schedule from the run config (defaults as documented in
// run_config.proto).
#include <memory>
#include <vector>

#include "autograd/variable.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

std::unique_ptr<optim::Optimizer> make_optimizer(const config::OptimizerConfig& config,
                                                 const std::vector<autograd::Variable>& params);
std::unique_ptr<optim::LrSchedule> make_schedule(const config::ScheduleConfig& config, const config::OptimizerConfig& opt,
                                                 int64_t total_steps);

}  // namespace qforge::trainers
