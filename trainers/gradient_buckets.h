#pragma once
// Gradient averaging for data-parallel training (README.md, "Training on several machines"): the
// trainable parameters are split into buckets of about distributed.bucket_mb MiB, in reverse
// registration order (the order backward finishes them: the last layer's gradients are final first).
// Backward announces each parameter whose gradient is final (autograd::Variable::backward's
// LeafReadyFunction); once a bucket is complete its sum over ranks starts on the communication thread
// (trainers/distributed.h) while backward goes on, as PyTorch DDP's reducer does (Li et al. 2020,
// "PyTorch Distributed", §3.2.3). Buckets start in index order on every rank, so the collectives match.
//
// The averaging rule: every rank's loss is the mean over its B/N rows of the global batch of B rows,
// so (1/N) * sum over ranks of its gradient is the gradient of the mean over all B rows, the one-rank
// gradient. B must be a multiple of N (the trainer refuses otherwise), which keeps the shards equal.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"
#include "trainers/distributed.h"

namespace qforge::trainers {

class GradientBuckets {
 public:
  // overlap false: every bucket starts after backward (to measure what the overlap saves).
  // Parameters that do not require grad (observer state, fixed scales) are left out: they have no gradient.
  GradientBuckets(std::vector<autograd::Variable> params, double bucket_mib, bool overlap, Distributed& dist);

  // Backward's callback: copies a final gradient into its bucket, starts complete buckets.
  void on_gradient_ready(const autograd::Variable& param);
  // After backward: starts what is left (parameters backward did not announce contribute their
  // gradient, or zeros when they have none), waits for every bucket and sets each parameter's
  // gradient to the average over ranks. `step` names the step in a timeout error.
  void finish(int64_t step);

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }
  // Seconds finish() waited for all-reduces that were not done when backward ended, since the last call.
  double take_exposed_seconds();
  // Buckets started from on_gradient_ready (during backward) rather than from finish(), since the last call.
  int64_t take_started_during_backward();

 private:
  struct Bucket {
    std::vector<int64_t> params;  // indices into params_
    std::vector<float> values;    // the bucket's gradients, flat
    int64_t pending = 0;          // parameters not yet copied in this step
    Distributed::Ticket ticket = 0;
  };
  void copy_in(int64_t index);
  void start_ready_buckets();
  void reset();

  std::vector<autograd::Variable> params_;
  std::vector<int64_t> bucket_of_, offset_of_;  // per parameter
  std::vector<bool> copied_;                     // per parameter, this step
  std::unordered_map<const void*, int64_t> index_of_;
  std::vector<Bucket> buckets_;
  size_t next_start_ = 0;  // buckets start in index order
  bool overlap_;
  Distributed& dist_;
  double exposed_seconds_ = 0.0;
  int64_t started_during_backward_ = 0;
  bool in_backward_ = true;  // false inside finish()
};

}  // namespace qforge::trainers
