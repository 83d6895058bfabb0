// Data-parallel training steps (data_parallel.h).
#include "trainers/data_parallel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "autograd/ops.h"
#include "fakequant/observers/rank_reduction.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;

namespace {

// PyTorch DDP uses 25 MiB (1 MiB for the first bucket); 1 MiB gives the 3.3 MB char-Llama gradient 4
// buckets, so its all-reduce can start before backward ends.
constexpr double kDefaultBucketMib = 1.0;

// Activation observers' reductions over MPI (fakequant/observers/rank_reduction.h).
class MpiRankReduction : public fakequant::RankReduction {
 public:
  explicit MpiRankReduction(Distributed& dist) : dist_(dist) {}
  void min(std::vector<float>& v) override { dist_.min(v.data(), static_cast<int64_t>(v.size()), "an observer's min"); }
  void max(std::vector<float>& v) override { dist_.max(v.data(), static_cast<int64_t>(v.size()), "an observer's max"); }
  void sum(std::vector<double>& v) override { dist_.sum(v.data(), static_cast<int64_t>(v.size()), "an observer's histogram"); }
  std::vector<float> gather(const std::vector<float>& v) override { return dist_.gather(v, "an observer's activations"); }

 private:
  Distributed& dist_;
};

}  // namespace

std::string data_parallel_help() {
  return "Data parallel: `mpirun -np N qforge train|qlora ...` trains on N ranks (README.md, Training on several "
         "machines). data.batch_size is the global batch: every rank draws the same batch and trains on rows "
         "[r*B/N, (r+1)*B/N) of it, so B must be a multiple of N and the data order does not depend on N; gradients "
         "are averaged over ranks during backward, rank 0 writes the run folder, and a run resumes on any number "
         "of ranks. This binary: " + Distributed::build_description() + ".";
}

DataParallel::DataParallel(const config::RunConfig& config, Task& task, const std::vector<ag::Variable>& params)
    : dist_(Distributed::world()), params_(params), model_(task.model()) {
  const config::DistributedConfig& d = config.distributed();
  bucket_mib_ = d.bucket_mb() > 0 ? d.bucket_mb() : kDefaultBucketMib;
  overlap_ = !d.no_overlap();
  shard_state_ = d.shard_optimizer_state();
  if (d.timeout_seconds() > 0) dist_.set_timeout_seconds(d.timeout_seconds());
  if (!dist_.active() && Distributed::launched_ranks() > 1)  // N separate runs writing one folder
    throw std::invalid_argument("started by mpirun with " + std::to_string(Distributed::launched_ranks()) +
                                " ranks, but this qforge is built " + Distributed::build_description() +
                                ": every rank would train alone; rebuild with -DQFORGE_MPI=ON and libopenmpi-dev");
  if (!dist_.active()) return;
  const int64_t batch = task.samples_per_batch();
  // Unequal shards would need per-rank loss weights; equal ones keep the plain average exact.
  if (batch % dist_.size() != 0)
    throw std::invalid_argument("data.batch_size " + std::to_string(batch) + " is not a multiple of the " +
                                std::to_string(dist_.size()) + " ranks (the batch size is the global batch, split evenly)");
  task.set_data_shard(dist_.rank(), dist_.size());
  autograd::set_dropout_first_row(dist_.rank() * (batch / dist_.size()));  // the one-process masks
  buckets_ = std::make_unique<GradientBuckets>(params_, bucket_mib_, overlap_, dist_);
  // Test control (tests/trainers/mpi_data_parallel.sh qat): observers that see their shard only.
  if (std::getenv("QFORGE_DIST_TEST_LOCAL_OBSERVERS")) return;
  reduction_ = std::make_unique<MpiRankReduction>(dist_);
  fakequant::set_rank_reduction(reduction_.get());
}

DataParallel::~DataParallel() {
  if (!buckets_) return;
  autograd::set_dropout_first_row(0);
  fakequant::set_rank_reduction(nullptr);
}

void DataParallel::backward(ag::Variable& loss, int64_t step) {
  if (!buckets_) {
    loss.backward();
    return;
  }
  inject_distributed_fault(dist_, step);
  loss.backward([this](const ag::Variable& param) { buckets_->on_gradient_ready(param); });
  buckets_->finish(step);
}

double DataParallel::mean_loss(double loss) {
  if (!buckets_) return loss;
  dist_.sum(&loss, 1, "the loss all-reduce");
  return loss / dist_.size();
}

uint64_t DataParallel::parameter_hash() const {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bit
  for (const ag::Variable& p : params_) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(p.data().data());
    for (size_t i = 0; i < static_cast<size_t>(p.numel()) * sizeof(float); ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  }
  for (const auto& [name, buffer] : model_.named_buffers())
    for (const int64_t value : *buffer) hash = (hash ^ static_cast<uint64_t>(value)) * 1099511628211ull;
  return hash;
}

void DataParallel::check_in_sync(int64_t step) const {
  if (!buckets_) return;
  const std::vector<uint64_t> hashes = dist_.gather(parameter_hash(), "the parameter hash check");
  std::string differ;
  for (size_t r = 1; r < hashes.size(); ++r)
    if (hashes[r] != hashes[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (differ.empty()) return;
  char first[32];
  std::snprintf(first, sizeof first, "%016llx", static_cast<unsigned long long>(hashes[0]));
  throw std::runtime_error("data-parallel training: at step " + std::to_string(step) + " the parameters of rank(s) " +
                           differ + " differ from rank 0's (hash " + first + "): the ranks drifted apart");
}

void DataParallel::shard_optimizer_state(optim::Optimizer& optimizer) {
  if (buckets_ && shard_state_) sharding_ = std::make_unique<OptimizerSharding>(optimizer, dist_);
}

void DataParallel::optimizer_step(optim::Optimizer& optimizer) {
  if (sharding_) sharding_->drop_foreign_gradients();
  optimizer.step();
  if (sharding_) sharding_->share_parameters();
}

void DataParallel::add_summary(std::map<std::string, double>& summary, int64_t steps) {
  if (!buckets_) return;
  const double per_step = 1.0 / static_cast<double>(std::max<int64_t>(1, steps));
  summary["ranks"] = dist_.size();
  summary["gradient_buckets"] = static_cast<double>(buckets_->bucket_count());
  summary["allreduce_seconds_per_step"] = dist_.take_reduce_seconds() * per_step;
  summary["exposed_allreduce_seconds_per_step"] = buckets_->take_exposed_seconds() * per_step;
  summary["buckets_started_during_backward_per_step"] = static_cast<double>(buckets_->take_started_during_backward()) * per_step;
}

std::string DataParallel::describe() const {
  int64_t floats = 0;
  for (const ag::Variable& p : params_) floats += p.numel();
  char text[200];
  std::snprintf(text, sizeof text, "data parallel: %d ranks, %lld gradient floats in %lld buckets of <= %.3g MiB, %s",
                dist_.size(), static_cast<long long>(floats), static_cast<long long>(buckets_ ? buckets_->bucket_count() : 0),
                bucket_mib_,
                overlap_ ? "all-reduced during backward" : "all-reduced after backward");
  return sharding_ ? std::string(text) + "\n" + sharding_->describe() : std::string(text);
}

}  // namespace qforge::trainers
