#pragma once
// Optimizer-state sharding, ZeRO stage 1 (Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward
// Training Trillion Parameter Models", §5.1, P_os): with distributed.shard_optimizer_state under
// `mpirun -np N`, every parameter has one owner rank (greedy by size, so the shares are about equal);
// only the owner keeps its optimizer buffers (Adam's two moments) and updates it, with the gradient
// already averaged over ranks (trainers/gradient_buckets.h), then broadcasts the new values. The update
// is the one the unsharded optimizer makes, so results equal unsharded training; the optimizer memory
// per rank drops to about 1/N. Checkpoints still hold every buffer: gather_state() collects them on
// rank 0, so a sharded run resumes on any number of ranks, sharded or not.
#include <cstdint>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "trainers/distributed.h"

namespace qforge::trainers {

class OptimizerSharding {
 public:
  // Assigns the owners and frees the buffers of the parameters this rank does not own.
  OptimizerSharding(optim::Optimizer& optimizer, Distributed& dist);

  // Before optimizer.step(): drops the gradients of parameters owned elsewhere (step() skips them).
  void drop_foreign_gradients();
  // After optimizer.step(): every parameter's new values from its owner to every rank.
  void share_parameters();
  // Called by every rank before a checkpoint: on rank 0 the optimizer's full state (all buffers and
  // counters, as the unsharded optimizer would have them); other ranks get their own state back.
  void gather_state(optim::NamedTensors& tensors, optim::NamedCounts& counts);
  // Frees foreign buffers again (after a checkpoint loaded every buffer).
  void release_foreign_state();

  // "ZeRO-1: rank 0 keeps Adam moments of 31 of 62 parameters: 0.26 MiB instead of 0.52 MiB (saves 0.26 MiB per rank)".
  std::string describe() const;

 private:
  struct Slot {
    size_t group, param;
    int owner;
    int64_t numel;
  };
  optim::Optimizer& optimizer_;
  Distributed& dist_;
  std::vector<Slot> slots_;  // every (group, param), in optimizer order
};

}  // namespace qforge::trainers
