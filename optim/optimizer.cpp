#include "optim/optimizer.h"

#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>

namespace qforge::optim {

namespace {

using autograd::Tensor;

std::string prefix(size_t group, size_t param) {
  return "group" + std::to_string(group) + ".param" + std::to_string(param) + ".";
}

// Reads the unsigned number at text[*pos], advancing *pos; false when there is none.
bool read_index(const std::string& text, size_t* pos, size_t* value) {
  const size_t start = *pos;
  while (*pos < text.size() && text[*pos] >= '0' && text[*pos] <= '9') ++*pos;
  if (*pos == start || *pos - start > 9) return false;
  *value = std::stoul(text.substr(start, *pos - start));
  return true;
}

// Splits "group<g>.param<p>.<rest>"; false when `key` has another form.
bool parse_key(const std::string& key, size_t* group, size_t* param, std::string* rest) {
  size_t pos = std::strlen("group");
  if (key.compare(0, pos, "group") != 0 || !read_index(key, &pos, group)) return false;
  if (key.compare(pos, 6, ".param") != 0) return false;
  pos += 6;
  if (!read_index(key, &pos, param) || pos >= key.size() || key[pos] != '.') return false;
  *rest = key.substr(pos + 1);
  return !rest->empty();
}

}  // namespace

Optimizer::Optimizer(const char* name, std::vector<ParamGroup> groups, double default_lr,
                     double default_weight_decay, std::vector<std::string> slot_names)
    : name_(name), groups_(std::move(groups)), slot_names_(std::move(slot_names)) {
  std::set<const void*> seen;
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& group = groups_[g];
    if (std::isnan(group.lr)) group.lr = default_lr;
    if (std::isnan(group.weight_decay)) group.weight_decay = default_weight_decay;
    const std::string where = std::string(name_) + ": group " + std::to_string(g);
    if (!(group.lr >= 0.0) || !std::isfinite(group.lr)) {
      throw std::invalid_argument(where + ": lr " + std::to_string(group.lr) + " is not a finite value >= 0");
    }
    if (!(group.weight_decay >= 0.0) || !std::isfinite(group.weight_decay)) {
      throw std::invalid_argument(where + ": weight_decay " + std::to_string(group.weight_decay) +
                                  " is not a finite value >= 0");
    }
    for (size_t p = 0; p < group.params.size(); ++p) {
      if (!group.params[p].defined()) throw std::invalid_argument(where + ": param " + std::to_string(p) + " is undefined");
      if (!seen.insert(group.params[p].id()).second) {
        throw std::invalid_argument(where + ": param " + std::to_string(p) + " appears more than once");
      }
    }
    base_lrs_.push_back(group.lr);
    states_.emplace_back(group.params.size());
  }
}

void Optimizer::zero_grad() {
  for (ParamGroup& group : groups_) {
    for (autograd::Variable& param : group.params) param.zero_grad();
  }
}

void Optimizer::step() {
  autograd::NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t p = 0; p < groups_[g].params.size(); ++p) {
      autograd::Variable& param = groups_[g].params[p];
      if (!param.requires_grad() || !param.has_grad()) continue;
      ParamState& state = states_[g][p];
      if (state.slots.empty()) {
        for (size_t s = 0; s < slot_names_.size(); ++s) state.slots.push_back(Tensor::zeros(param.shape()));
      }
      ++state.steps;
      update(groups_[g], state, param.mutable_data().data(), param.grad().data(), param.numel());
    }
  }
  ++step_count_;
}

void Optimizer::set_lr_scale(double scale) {
  if (!(scale >= 0.0) || !std::isfinite(scale)) {
    throw std::invalid_argument(std::string(name_) + ": lr scale " + std::to_string(scale) + " is not a finite value >= 0");
  }
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = base_lrs_[g] * scale;
}

NamedTensors Optimizer::state() const {
  NamedTensors out;
  for (size_t g = 0; g < states_.size(); ++g) {
    for (size_t p = 0; p < states_[g].size(); ++p) {
      const ParamState& state = states_[g][p];
      for (size_t s = 0; s < state.slots.size(); ++s) {
        out.emplace_back(prefix(g, p) + slot_names_[s], state.slots[s].clone());
      }
    }
  }
  return out;
}

NamedCounts Optimizer::step_counts() const {
  NamedCounts out{{"step", step_count_}};
  for (size_t g = 0; g < states_.size(); ++g) {
    for (size_t p = 0; p < states_[g].size(); ++p) {
      if (states_[g][p].steps > 0) out.emplace_back(prefix(g, p) + "step", states_[g][p].steps);
    }
  }
  return out;
}

void Optimizer::load_state(const NamedTensors& tensors, const NamedCounts& counts) {
  const std::vector<std::vector<ParamState>> previous = states_;
  const int64_t previous_step = step_count_;
  for (auto& group : states_) {
    for (ParamState& state : group) state = ParamState{};
  }
  step_count_ = 0;
  try {
    std::set<std::string> names;
    for (const auto& [key, value] : counts) {
      if (!names.insert(key).second) throw std::invalid_argument("load_state: count '" + key + "' appears twice");
      apply_count(key, value);
    }
    for (const auto& [key, value] : tensors) {
      if (!names.insert(key).second) throw std::invalid_argument("load_state: tensor '" + key + "' appears twice");
      apply_tensor(key, value);
    }
    if (!names.count("step")) throw std::invalid_argument("load_state: count 'step' is missing");
    check_loaded_state();
  } catch (const std::invalid_argument& e) {
    states_ = previous;  // a failed load leaves the optimiser as it was
    step_count_ = previous_step;
    throw std::invalid_argument(std::string(name_) + ": " + e.what());
  }
}

Optimizer::ParamState& Optimizer::state_at(const std::string& key, const std::string& what, size_t* group,
                                           size_t* param) {
  std::string rest;
  if (!parse_key(key, group, param, &rest)) {
    throw std::invalid_argument("load_state: " + what + " '" + key + "' is not named group<g>.param<p>.<name>");
  }
  if (*group >= groups_.size()) {
    throw std::invalid_argument("load_state: " + what + " '" + key + "' names group " + std::to_string(*group) +
                                " but the optimiser has " + std::to_string(groups_.size()) + " groups");
  }
  if (*param >= groups_[*group].params.size()) {
    throw std::invalid_argument("load_state: " + what + " '" + key + "' names param " + std::to_string(*param) +
                                " but group " + std::to_string(*group) + " has " +
                                std::to_string(groups_[*group].params.size()) + " params");
  }
  return states_[*group][*param];
}

void Optimizer::apply_count(const std::string& key, int64_t value) {
  if (value < 0) throw std::invalid_argument("load_state: count '" + key + "' is negative: " + std::to_string(value));
  if (key == "step") {
    step_count_ = value;
    return;
  }
  size_t g = 0, p = 0;
  ParamState& state = state_at(key, "count", &g, &p);
  if (key.substr(key.rfind('.') + 1) != "step") {
    throw std::invalid_argument("load_state: count '" + key + "' should end in '.step'");
  }
  state.steps = value;
}

void Optimizer::apply_tensor(const std::string& key, const Tensor& value) {
  size_t g = 0, p = 0;
  ParamState& state = state_at(key, "tensor", &g, &p);
  const std::string slot = key.substr(prefix(g, p).size());
  size_t s = 0;
  while (s < slot_names_.size() && slot_names_[s] != slot) ++s;
  if (s == slot_names_.size()) {
    std::string known;
    for (const std::string& n : slot_names_) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("load_state: tensor '" + key + "': " + name_ + " has no buffer '" + slot +
                                "' (expected one of: " + (known.empty() ? "none" : known) + ")");
  }
  const autograd::Shape& expected = groups_[g].params[p].shape();
  if (!value.defined() || value.shape() != expected) {
    throw std::invalid_argument("load_state: tensor '" + key + "' has shape " +
                                (value.defined() ? value.shape().to_string() : "<undefined>") +
                                " but the parameter has shape " + expected.to_string());
  }
  if (state.slots.empty()) state.slots.resize(slot_names_.size());
  state.slots[s] = value.clone();  // owned: the caller may reuse its tensors
}

void Optimizer::check_loaded_state() const {
  for (size_t g = 0; g < states_.size(); ++g) {
    for (size_t p = 0; p < states_[g].size(); ++p) {
      const ParamState& state = states_[g][p];
      if (state.steps == 0 && !state.slots.empty()) {
        throw std::invalid_argument("load_state: buffers for '" + prefix(g, p) + "' but no count '" + prefix(g, p) +
                                    "step'");
      }
      if (state.steps == 0) continue;
      for (size_t s = 0; s < slot_names_.size(); ++s) {
        if (state.slots.size() != slot_names_.size() || !state.slots[s].defined()) {
          throw std::invalid_argument("load_state: tensor '" + prefix(g, p) + slot_names_[s] + "' is missing (param " +
                                      "stepped " + std::to_string(state.steps) + " times)");
        }
      }
    }
  }
}

}  // namespace qforge::optim
