#include "layers/module.h"

#include <fnmatch.h>

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

namespace qforge::layers {

void Module::check_new_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw std::invalid_argument(std::string("Module::register_") + what + ": name must be non-empty and dot-free, got '" +
                                name + "'");
  }
  const auto same = [&](const auto& entry) { return entry.first == name; };
  if (std::any_of(parameters_.begin(), parameters_.end(), same) || std::any_of(buffers_.begin(), buffers_.end(), same) ||
      std::any_of(children_.begin(), children_.end(), same)) {
    throw std::invalid_argument(std::string("Module::register_") + what + ": name '" + name +
                                "' is already taken by a parameter, buffer or child of this module");
  }
}

Variable Module::register_parameter(const std::string& name, Tensor value, bool requires_grad) {
  check_new_name(name, "parameter");
  if (!value.defined()) {
    throw std::invalid_argument("Module::register_parameter: tensor for '" + name + "' is undefined");
  }
  Variable parameter(std::move(value), requires_grad);
  parameters_.emplace_back(name, parameter);
  return parameter;
}

IntBuffer Module::register_buffer(const std::string& name, IntBuffer buffer) {
  check_new_name(name, "buffer");
  if (!buffer) throw std::invalid_argument("Module::register_buffer: buffer '" + name + "' is null");
  buffers_.emplace_back(name, buffer);
  return buffer;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name, "module");
  if (!child) throw std::invalid_argument("Module::register_module: module '" + name + "' is null");
  if (child.get() == this) throw std::invalid_argument("Module::register_module: '" + name + "' is the module itself");
  children_.emplace_back(name, std::move(child));
}

void Module::unregister_parameter(const std::string& name) {
  const auto it = std::find_if(parameters_.begin(), parameters_.end(), [&](const auto& e) { return e.first == name; });
  if (it == parameters_.end()) throw std::invalid_argument("Module::unregister_parameter: no parameter '" + name + "'");
  parameters_.erase(it);
}

void Module::unregister_module(const std::string& name) {
  const auto it = std::find_if(children_.begin(), children_.end(), [&](const auto& e) { return e.first == name; });
  if (it == children_.end()) throw std::invalid_argument("Module::unregister_module: no child '" + name + "'");
  children_.erase(it);
}

void Module::collect_parameters(const std::string& prefix, std::vector<NamedParameter>& out) const {
  for (const auto& [name, parameter] : parameters_) out.emplace_back(prefix + name, parameter);
  for (const auto& [name, child] : children_) child->collect_parameters(prefix + name + ".", out);
}

std::vector<Module::NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> all;
  collect_parameters("", all);
  std::vector<NamedParameter> unique;
  std::unordered_set<const void*> seen;
  for (auto& entry : all) {
    if (seen.insert(entry.second.id()).second) unique.push_back(std::move(entry));
  }
  return unique;
}

void Module::collect_buffers(const std::string& prefix, std::vector<NamedBuffer>& out) const {
  for (const auto& [name, buffer] : buffers_) out.emplace_back(prefix + name, buffer);
  for (const auto& [name, child] : children_) child->collect_buffers(prefix + name + ".", out);
}

std::vector<Module::NamedBuffer> Module::named_buffers() const {
  std::vector<NamedBuffer> all;
  collect_buffers("", all);
  std::vector<NamedBuffer> unique;
  std::unordered_set<const void*> seen;
  for (auto& entry : all) {
    if (seen.insert(entry.second.get()).second) unique.push_back(std::move(entry));
  }
  return unique;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, parameter] : named_parameters()) out.push_back(parameter);
  return out;
}

std::vector<Module::NamedModule> Module::named_children() const { return children_; }

std::vector<Module::NamedModule> Module::named_modules() const {
  std::vector<NamedModule> out;
  for (const auto& [name, child] : children_) {
    out.emplace_back(name, child);
    for (auto& [sub_name, sub] : child->named_modules()) out.emplace_back(name + "." + sub_name, sub);
  }
  return out;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::set_requires_grad(bool requires_grad) {
  for (auto& [name, parameter] : parameters_) parameter.set_requires_grad(requires_grad);
  for (auto& [name, child] : children_) child->set_requires_grad(requires_grad);
}

StateDict Module::state_dict() const {
  StateDict state;
  for (const auto& [name, parameter] : named_parameters()) state.emplace(name, parameter.data());
  for (const auto& [name, buffer] : named_buffers()) state.buffers.emplace(name, *buffer);
  return state;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  const std::vector<NamedParameter> own = named_parameters();
  // Validate everything first so a failed load leaves the module untouched.
  for (const auto& [name, parameter] : own) {
    const auto found = state.find(name);
    if (found == state.end()) {
      if (strict) throw std::invalid_argument("Module::load_state_dict: missing key '" + name + "'");
      continue;
    }
    if (!found->second.defined() || found->second.shape() != parameter.shape()) {
      throw std::invalid_argument("Module::load_state_dict: '" + name + "' expects shape " +
                                  parameter.shape().to_string() + ", got " +
                                  (found->second.defined() ? found->second.shape().to_string() : "undefined"));
    }
  }
  if (strict) {
    std::unordered_set<std::string> known;
    for (const auto& entry : own) known.insert(entry.first);
    for (const auto& entry : state) {
      if (!known.count(entry.first)) {
        throw std::invalid_argument("Module::load_state_dict: unexpected key '" + entry.first + "'");
      }
    }
  }
  for (auto [name, parameter] : own) {
    const auto found = state.find(name);
    if (found == state.end()) continue;
    const float* source = found->second.data();
    float* target = parameter.mutable_data().data();
    if (source != target) std::copy(source, source + parameter.numel(), target);
  }
}

void Module::check_buffers(const std::map<std::string, std::vector<int64_t>>& state, bool strict) const {
  const std::vector<NamedBuffer> own = named_buffers();
  for (const auto& [name, buffer] : own) {
    const auto found = state.find(name);
    if (found == state.end()) {
      if (strict) throw std::invalid_argument("Module::load_state_dict: missing buffer '" + name + "'");
    } else if (found->second.size() != buffer->size()) {
      throw std::invalid_argument("Module::load_state_dict: buffer '" + name + "' expects " +
                                  std::to_string(buffer->size()) + " values, got " + std::to_string(found->second.size()));
    }
  }
  if (!strict) return;
  std::unordered_set<std::string> known;
  for (const auto& entry : own) known.insert(entry.first);
  for (const auto& entry : state) {
    if (!known.count(entry.first)) throw std::invalid_argument("Module::load_state_dict: unexpected buffer '" + entry.first + "'");
  }
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  check_buffers(state.buffers, strict);  // before the parameters change: a failed load changes nothing
  load_state_dict(static_cast<const std::map<std::string, Tensor>&>(state), strict);
  for (auto& [name, buffer] : named_buffers()) {
    const auto found = state.buffers.find(name);
    if (found != state.buffers.end()) *buffer = found->second;
  }
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

void ModuleList::throw_wrong_type(size_t i) const {
  throw std::invalid_argument("ModuleList::at: module " + std::to_string(i) + " is not of the requested type");
}

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

}  // namespace qforge::layers
