// Bucketed, overlapped gradient averaging (gradient_buckets.h).
#include "trainers/gradient_buckets.h"

#include <algorithm>
#include <chrono>
#include <string>

namespace qforge::trainers {

namespace ag = qforge::autograd;

GradientBuckets::GradientBuckets(std::vector<ag::Variable> params, double bucket_mib, bool overlap, Distributed& dist)
    : overlap_(overlap), dist_(dist) {
  for (ag::Variable& p : params)
    if (p.requires_grad()) params_.push_back(p);
  const auto cap = static_cast<int64_t>(std::max(1.0, bucket_mib * 1024 * 1024 / sizeof(float)));
  const auto count = static_cast<int64_t>(params_.size());
  bucket_of_.assign(count, 0);
  offset_of_.assign(count, 0);
  copied_.assign(count, false);
  for (int64_t i = count - 1; i >= 0; --i) {  // reverse registration order ~ the order backward ends them
    const int64_t n = params_[i].numel();
    if (buckets_.empty() || (!buckets_.back().values.empty() && static_cast<int64_t>(buckets_.back().values.size()) + n > cap))
      buckets_.emplace_back();
    Bucket& bucket = buckets_.back();
    bucket_of_[i] = static_cast<int64_t>(buckets_.size()) - 1;
    offset_of_[i] = static_cast<int64_t>(bucket.values.size());
    bucket.params.push_back(i);
    bucket.values.resize(bucket.values.size() + n);
    index_of_[params_[i].id()] = i;
  }
  reset();
}

void GradientBuckets::reset() {
  for (Bucket& bucket : buckets_) bucket.pending = static_cast<int64_t>(bucket.params.size()), bucket.ticket = 0;
  std::fill(copied_.begin(), copied_.end(), false);
  next_start_ = 0;
  in_backward_ = true;
}

void GradientBuckets::copy_in(int64_t index) {
  if (copied_[index]) return;
  copied_[index] = true;
  const ag::Variable& p = params_[index];
  Bucket& bucket = buckets_[bucket_of_[index]];
  float* out = bucket.values.data() + offset_of_[index];
  // A parameter without a gradient this step (unused by the loss) adds zeros; it has none on every
  // rank, since every rank runs the same graph, and keeps none after the reduction.
  if (p.has_grad()) std::copy(p.grad().data(), p.grad().data() + p.numel(), out);
  else std::fill(out, out + p.numel(), 0.0f);
  --bucket.pending;
}

void GradientBuckets::start_ready_buckets() {
  while (next_start_ < buckets_.size() && buckets_[next_start_].pending == 0) {
    Bucket& bucket = buckets_[next_start_++];
    bucket.ticket = dist_.submit_sum(bucket.values.data(), static_cast<int64_t>(bucket.values.size()));
    started_during_backward_ += in_backward_ ? 1 : 0;
  }
}

void GradientBuckets::on_gradient_ready(const ag::Variable& param) {
  const auto found = index_of_.find(param.id());
  if (found == index_of_.end()) return;  // a leaf that is not trained (e.g. a LoRA run's frozen base)
  copy_in(found->second);
  if (overlap_) start_ready_buckets();
}

void GradientBuckets::finish(int64_t step) {
  in_backward_ = false;
  for (int64_t i = 0; i < static_cast<int64_t>(params_.size()); ++i) copy_in(i);
  start_ready_buckets();
  const auto start = std::chrono::steady_clock::now();
  const std::string what = "the gradient all-reduce of step " + std::to_string(step);
  for (const Bucket& bucket : buckets_) dist_.wait(bucket.ticket, what);
  exposed_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const float inverse = 1.0f / static_cast<float>(dist_.size());
  for (int64_t i = 0; i < static_cast<int64_t>(params_.size()); ++i) {
    ag::Variable& p = params_[i];
    if (!p.has_grad()) continue;
    const float* sum = buckets_[bucket_of_[i]].values.data() + offset_of_[i];
    ag::Tensor average(p.shape());
    for (int64_t j = 0; j < p.numel(); ++j) average.data()[j] = sum[j] * inverse;
    p.zero_grad();
    p.add_grad(average);
  }
  reset();
}

int64_t GradientBuckets::take_started_during_backward() {
  const int64_t started = started_during_backward_;
  started_during_backward_ = 0;
  return started;
}

double GradientBuckets::take_exposed_seconds() {
  const double seconds = exposed_seconds_;
  exposed_seconds_ = 0.0;
  return seconds;
}

}  // namespace qforge::trainers
