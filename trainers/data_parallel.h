#pragma once
// What the training loop (trainer.cpp) does differently under `mpirun -np N` (README.md, "Training on
// several machines"); with one process every member is a no-op or the identity, so the loop is the
// single-process loop. Per step:
//  - every rank draws the same global batch of data.batch_size rows and trains on its B/N rows
//    (Task::set_data_shard; B % N != 0 is refused: equal shards keep the averaged gradient the
//    one-rank gradient, trainers/gradient_buckets.h);
//  - backward() starts bucketed gradient all-reduces while backward runs and ends with every
//    parameter's gradient the average over ranks, so clipping sees the global norm and every rank's
//    optimizer takes the same step;
//  - mean_loss() averages the step's loss over ranks (what is logged and checked for NaN);
//  - activation observers see the whole global batch (fakequant/observers/rank_reduction.h).
// check_in_sync() compares a hash of the parameters across ranks (at the start and after each
// checkpoint); only the root rank writes the run folder.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "fakequant/observers/rank_reduction.h"
#include "trainers/distributed.h"
#include "trainers/gradient_buckets.h"
#include "trainers/optimizer_sharding.h"
#include "trainers/run_config.h"
#include "trainers/task.h"

namespace qforge::trainers {

// The rule as `qforge train --help` and `qlora --help` state it, with how this binary was built.
std::string data_parallel_help();

class DataParallel {
 public:
  // Throws std::invalid_argument when data.batch_size is not a multiple of the rank count.
  DataParallel(const config::RunConfig& config, Task& task, const std::vector<autograd::Variable>& params);
  ~DataParallel();

  Distributed& dist() { return dist_; }
  bool writes_run_folder() const { return dist_.is_root(); }
  // loss.backward() with the gradients averaged over ranks when it returns.
  void backward(autograd::Variable& loss, int64_t step);
  double mean_loss(double loss);
  // Throws std::runtime_error on every rank, naming the ranks, when the parameter hashes differ.
  void check_in_sync(int64_t step) const;
  // 64-bit FNV-1a of every parameter's bytes, in order, then of the model's int64 buffers (the
  // quantizers' observed-step and freeze counters), so counters that disagree are caught too.
  uint64_t parameter_hash() const;
  // With several ranks, adds to a run's closing summary (metrics.jsonl) per step of the `steps` run:
  // seconds of collectives on the communication thread, seconds waited for them after backward, and
  // gradient buckets started during backward (all of them when every parameter's end is announced).
  void add_summary(std::map<std::string, double>& summary, int64_t steps);
  // Optimizer-state sharding (distributed.shard_optimizer_state, ZeRO-1, optimizer_sharding.h); each
  // call is a no-op without it. step(): drop foreign gradients, optimizer.step(), share the new values.
  void shard_optimizer_state(optim::Optimizer& optimizer);
  void optimizer_step(optim::Optimizer& optimizer);
  void after_optimizer_load() { if (sharding_) sharding_->release_foreign_state(); }
  // Every rank calls it before a checkpoint; rank 0 then holds the full state (others their own).
  void gather_optimizer_state(optim::NamedTensors& tensors, optim::NamedCounts& counts) {
    if (sharding_) sharding_->gather_state(tensors, counts);
  }

  // "2 ranks, 4 gradient buckets of <= 4 MiB, overlapped" for the run's first line.
  std::string describe() const;

 private:
  Distributed& dist_;
  std::vector<autograd::Variable> params_;
  const layers::Module& model_;
  std::unique_ptr<GradientBuckets> buckets_;  // null with one rank
  std::unique_ptr<OptimizerSharding> sharding_;
  std::unique_ptr<fakequant::RankReduction> reduction_;  // installed for the activation observers
  bool shard_state_ = false;
  double bucket_mib_;
  bool overlap_;
};

}  // namespace qforge::trainers
