#pragma once
// The Task a run config describes, with the config's quantizers installed (trainers/task.h).
#include <memory>

#include "trainers/run_config.h"
#include "trainers/task.h"

namespace qforge::trainers {

// model.kind and data.source must fit together (errors say which field); the quantization section's
// rules and preset are applied to the task's model (trainers/quantization_setup.h).
std::unique_ptr<Task> make_task(const config::RunConfig& config);

}  // namespace qforge::trainers
