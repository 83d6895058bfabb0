#pragma once
// Activation observers in data-parallel training (trainers/data_parallel.h): each rank runs its shard
// of the global batch, but an observer must see the whole batch, or the ranks' scales would drift apart
// and differ from one-process training. The trainer installs a RankReduction (over MPI) for the run;
// observers combine their per-batch statistic with it before they update: min/max and EMA observers
// reduce the per-parameter batch min and max (exact), KL reduces the range then sums the histogram
// counts (exact: every rank bins with the same width), and percentile / MSE, whose statistics need
// the values themselves, gather the activations of all ranks in rank order, i.e. the global batch.
// fakequant does not depend on MPI: this is the interface, trainers/ implements it.
#include <vector>

namespace qforge::fakequant {

class RankReduction {
 public:
  virtual ~RankReduction() = default;
  virtual void min(std::vector<float>& values) = 0;  // element-wise over ranks, in place
  virtual void max(std::vector<float>& values) = 0;
  virtual void sum(std::vector<double>& values) = 0;
  virtual std::vector<float> gather(const std::vector<float>& values) = 0;  // concatenated in rank order
};

// The reduction activation quantizers use while training (fakequant/quantizer.cpp); null (the default)
// with one process. Not owned.
void set_rank_reduction(RankReduction* reduction);
RankReduction* rank_reduction();

}  // namespace qforge::fakequant
