#pragma once
// Optimizer: the shared part of SGD and Adam(W). It owns the parameter groups and one state
// record per parameter, laid out index for index with the groups' parameter lists (as
// flashlight's AdamOptimizer). step() visits every parameter that requires grad and has a
// gradient; the others are skipped and their state stays untouched (as torch.optim).
//
// Checkpoints: state() names every buffer "group<g>.param<p>.<slot>" (e.g. "group0.param3.exp_avg")
// and step_counts() names the counters ("step" and "group<g>.param<p>.step"). Loading both into an
// optimiser built over the same parameter layout continues the run bit for bit. Learning rates
// are not state: schedules recompute them from step_count() (schedule.h).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "optim/param_group.h"

namespace qforge::optim {

using NamedTensors = std::vector<std::pair<std::string, autograd::Tensor>>;
using NamedCounts = std::vector<std::pair<std::string, int64_t>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Drops every parameter's gradient (the next backward starts from nothing).
  void zero_grad();
  // One update of every parameter that requires grad and has a gradient, under NoGradGuard.
  void step();
  // Number of step() calls so far (restored by load_state).
  int64_t step_count() const { return step_count_; }

  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  // The learning rate each group had at construction; schedules scale it (set_lr_scale).
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  // Sets every group's lr to its base lr times `scale` (LambdaLR semantics).
  void set_lr_scale(double scale);

  // Copies of the buffers of every parameter that has been updated at least once.
  NamedTensors state() const;
  NamedCounts step_counts() const;
  // Replaces all state. Throws std::invalid_argument naming the entry when a name is unknown or
  // duplicated, a shape differs from its parameter, or a stepped parameter lacks a buffer.
  void load_state(const NamedTensors& tensors, const NamedCounts& counts);

  const char* name() const { return name_; }

  // Optimizer-state sharding (ZeRO stage 1, trainers/optimizer_sharding.h): the buffer names of one
  // parameter ("exp_avg", "exp_avg_sq" for Adam), and dropping the state of a parameter that another
  // rank updates (its buffers are freed; step() re-creates them if the parameter gets a gradient).
  const std::vector<std::string>& slot_names() const { return slot_names_; }
  void release_state(size_t group, size_t param) { states_.at(group).at(param) = ParamState{}; }

 protected:
  // Per-parameter state: how many updates it has had and its buffers, one per slot name.
  struct ParamState {
    int64_t steps = 0;
    std::vector<autograd::Tensor> slots;  // empty until the first update, then zero-filled
  };

  // Resolves group lr / weight_decay left at kFromOptions, checks them and that no parameter
  // appears twice. `slot_names` name the per-parameter buffers (may be empty).
  Optimizer(const char* name, std::vector<ParamGroup> groups, double default_lr, double default_weight_decay,
            std::vector<std::string> slot_names);

  // Updates one parameter's n values in place. state.steps already counts this update.
  virtual void update(const ParamGroup& group, ParamState& state, float* param, const float* grad,
                      int64_t n) = 0;

 private:
  void apply_count(const std::string& key, int64_t value);
  void apply_tensor(const std::string& key, const autograd::Tensor& value);
  ParamState& state_at(const std::string& key, const std::string& what, size_t* group, size_t* param);
  void check_loaded_state() const;

  const char* name_;
  std::vector<ParamGroup> groups_;
  std::vector<double> base_lrs_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<ParamState>> states_;  // [group][param], like groups_[g].params[p]
  int64_t step_count_ = 0;
};

}  // namespace qforge::optim
