// ZeRO stage 1 (optimizer_sharding.h).
#include "trainers/optimizer_sharding.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>

namespace qforge::trainers {

namespace {
std::string key(size_t group, size_t param) {  // the optimizer's state names (optim/optimizer.h)
  return "group" + std::to_string(group) + ".param" + std::to_string(param) + ".";
}
}  // namespace

OptimizerSharding::OptimizerSharding(optim::Optimizer& optimizer, Distributed& dist) : optimizer_(optimizer), dist_(dist) {
  // Parameters that do not train (observer state, fixed scales) have no optimizer state and are the same
  // on every rank already (trainers/data_parallel.h): they are not sharded.
  for (size_t g = 0; g < optimizer_.groups().size(); ++g)
    for (size_t p = 0; p < optimizer_.groups()[g].params.size(); ++p)
      if (optimizer_.groups()[g].params[p].requires_grad())
        slots_.push_back({g, p, 0, optimizer_.groups()[g].params[p].numel()});
  // Largest first onto the least loaded rank (LPT): deterministic, so every rank computes the same owners.
  std::vector<size_t> order(slots_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return slots_[a].numel > slots_[b].numel; });
  std::vector<int64_t> load(dist_.size(), 0);
  for (size_t i : order) {
    const int rank = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    slots_[i].owner = rank;
    load[rank] += slots_[i].numel;
  }
  release_foreign_state();
}

void OptimizerSharding::release_foreign_state() {
  for (const Slot& s : slots_)
    if (s.owner != dist_.rank()) optimizer_.release_state(s.group, s.param);
}

void OptimizerSharding::drop_foreign_gradients() {
  for (const Slot& s : slots_)
    if (s.owner != dist_.rank()) optimizer_.groups()[s.group].params[s.param].zero_grad();
}

void OptimizerSharding::share_parameters() {
  Distributed::Ticket last = 0;
  for (const Slot& s : slots_) {
    autograd::Variable& param = optimizer_.groups()[s.group].params[s.param];
    last = dist_.submit_broadcast(param.mutable_data().data(), s.numel, s.owner);
  }
  dist_.wait(last, "the ZeRO-1 parameter broadcast");  // collectives complete in submission order
}

void OptimizerSharding::gather_state(optim::NamedTensors& tensors, optim::NamedCounts& counts) {
  std::map<std::string, autograd::Tensor> mine(tensors.begin(), tensors.end());
  std::map<std::string, int64_t> steps(counts.begin(), counts.end());
  const std::vector<std::string>& names = optimizer_.slot_names();
  optim::NamedTensors all;
  optim::NamedCounts all_counts;
  for (const auto& [name, value] : counts)
    if (name.rfind("group", 0) != 0) all_counts.emplace_back(name, value);  // the global "step"
  for (const Slot& s : slots_) {
    const std::string prefix = key(s.group, s.param);
    // [steps, slot 0..., slot 1...] from the owner; the others add zeros (x + 0 = x exactly).
    std::vector<float> buffer(1 + names.size() * s.numel, 0.0f);
    if (s.owner == dist_.rank() && steps.count(prefix + "step")) {
      buffer[0] = static_cast<float>(steps[prefix + "step"]);  // exact below 2^24 steps
      for (size_t k = 0; k < names.size(); ++k) {
        const autograd::Tensor& t = mine.at(prefix + names[k]);
        std::copy(t.data(), t.data() + s.numel, buffer.begin() + 1 + k * s.numel);
      }
    }
    dist_.wait(dist_.submit_sum(buffer.data(), static_cast<int64_t>(buffer.size())), "the ZeRO-1 state gather");
    const auto stepped = static_cast<int64_t>(buffer[0]);
    if (stepped == 0) continue;
    all_counts.emplace_back(prefix + "step", stepped);
    const autograd::Shape& shape = optimizer_.groups()[s.group].params[s.param].shape();
    for (size_t k = 0; k < names.size(); ++k) {
      autograd::Tensor t(shape);
      std::copy(buffer.begin() + 1 + k * s.numel, buffer.begin() + 1 + (k + 1) * s.numel, t.data());
      all.emplace_back(prefix + names[k], t);
    }
  }
  if (dist_.is_root()) tensors = std::move(all), counts = std::move(all_counts);
}

std::string OptimizerSharding::describe() const {
  int64_t total = 0, kept = 0, params = 0;
  for (const Slot& s : slots_) {
    total += s.numel;
    if (s.owner == dist_.rank()) kept += s.numel, ++params;
  }
  const double per_value = static_cast<double>(optimizer_.slot_names().size() * sizeof(float)) / (1024.0 * 1024.0);
  char text[240];
  std::snprintf(text, sizeof text,
                "ZeRO-1: rank %d keeps the %s state of %lld of %zu parameters: %.3f MiB instead of %.3f MiB (saves %.3f MiB per rank)",
                dist_.rank(), optimizer_.name(), static_cast<long long>(params), slots_.size(), kept * per_value,
                total * per_value, (total - kept) * per_value);
  return text;
}

}  // namespace qforge::trainers
