#pragma once
// Training a run (trainer.cpp): the loop every task shares, with checkpoints and bit-identical resume.
#include <cstdint>
#include <filesystem>

#include "trainers/run.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

struct TrainOptions {
  std::filesystem::path run_dir;  // checkpoint.bin, metrics.jsonl and config.pbtxt live here
  bool fresh = false;             // ignore an existing checkpoint instead of resuming from it
  int64_t stop_after_steps = 0;   // > 0: stop (with a checkpoint) after this many steps of this call
};

// Trains `config`; resumes from run_dir/checkpoint.bin when present (the saved config must match
// apart from trainer.steps and logging fields, otherwise it throws naming the difference).
RunResult train(const config::RunConfig& config, const TrainOptions& options);

}  // namespace qforge::trainers
