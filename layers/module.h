#pragma once
// Module: the base of every layer, in the style of the PyTorch C++ frontend
// (torch/csrc/api/include/torch/nn/module.h). A module owns named parameters and named child
// modules; names join with dots into the keys Hugging Face checkpoints use, e.g.
// "model.layers.0.self_attn.q_proj.weight". Modules are non-copyable and held by shared_ptr.
//
// Buffers (torch.nn.Module.register_buffer) hold state that is saved but never trained: here int64
// values such as step counters, exact where a float32 parameter stops counting at 2^24. They are
// in state_dict() and checkpoints, never in parameters(), so optimizers and exporters (which walk
// named_parameters()) do not see them.
//
// There is no virtual forward(): layers take different inputs (a Variable, token ids), so each
// layer declares its own forward. UnaryModule is the common case Variable -> Variable.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace qforge::layers {

using autograd::IndexTensor;
using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;

/// A module's int64 buffer. A handle: the module and whoever registered it share the values.
using IntBuffer = std::shared_ptr<std::vector<int64_t>>;

/// What Module::state_dict() returns: the parameters by dotted name (the map itself, so code that
/// only wants tensors uses it as before) plus a copy of every buffer's values by dotted name.
struct StateDict : std::map<std::string, Tensor> {
  std::map<std::string, std::vector<int64_t>> buffers;
};

/// Base class of all layers: parameter and child registry, train/eval mode, freezing, state dicts.
class Module {
 public:
  /// A (dotted name, parameter) pair as returned by named_parameters().
  using NamedParameter = std::pair<std::string, Variable>;
  /// A (dotted name, buffer) pair as returned by named_buffers().
  using NamedBuffer = std::pair<std::string, IntBuffer>;
  /// A (name, child) pair as returned by named_children() and named_modules().
  using NamedModule = std::pair<std::string, std::shared_ptr<Module>>;

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Registers `value` as parameter `name` (no dots, unique within this module) and returns its
  /// Variable. The Variable is a handle: the module and the caller share data, grad and flags.
  /// Throws std::invalid_argument on an empty, dotted or duplicate name or an undefined tensor.
  Variable register_parameter(const std::string& name, Tensor value, bool requires_grad = true);

  /// Registers `buffer` as buffer `name` (same name rules as parameters) and returns it: non-trainable
  /// int64 state, saved by state_dict() and checkpoints, never listed by named_parameters().
  /// Throws std::invalid_argument on a bad or taken name or a null buffer.
  IntBuffer register_buffer(const std::string& name, IntBuffer buffer);

  /// Registers `module` as child `name` (no dots, unique) and returns it, so members read
  /// `q_proj_ = register_module("q_proj", std::make_shared<Linear>(...))`.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  /// Removes parameter `name` (registered here, not in a child); later parameters keep their order.
  /// Throws std::invalid_argument when there is no such parameter. Used to turn a layer into another
  /// form (Linear::merge_lora folds its adapters in and drops them).
  void unregister_parameter(const std::string& name);
  /// Removes child `name`; throws std::invalid_argument when there is no such child.
  void unregister_module(const std::string& name);

  /// Every parameter of this module and its descendants with dotted names, in registration order
  /// (own parameters first, then each child in turn). A parameter reachable under two names is
  /// listed once, under the first, as PyTorch does, so optimisers never update it twice.
  std::vector<NamedParameter> named_parameters() const;
  /// Every buffer here and below with dotted names, ordered as named_parameters() (own first, then
  /// each child in turn); a buffer reachable under two names is listed once, under the first.
  std::vector<NamedBuffer> named_buffers() const;
  /// The parameters of named_parameters(), in the same order.
  std::vector<Variable> parameters() const;
  /// The direct children in registration order.
  std::vector<NamedModule> named_children() const;
  /// Every descendant (not this module) with its dotted path, depth first in registration order.
  std::vector<NamedModule> named_modules() const;

  /// Sets training mode on this module and every descendant (dropout reads it).
  void train(bool on = true);
  /// Same as train(false).
  void eval() { train(false); }
  /// True in training mode (the default for a new module).
  bool is_training() const { return training_; }

  /// Sets requires_grad = false on every parameter here and below (they stop receiving gradients).
  void freeze() { set_requires_grad(false); }
  /// Sets requires_grad = true on every parameter here and below.
  void unfreeze() { set_requires_grad(true); }

  /// Name -> tensor for every parameter, keyed as named_parameters(). The tensors are handles,
  /// not clones: they share storage with the parameters, so they track later updates. Clone the
  /// values (Tensor::clone) to keep a snapshot. `buffers` holds copies of named_buffers()' values.
  StateDict state_dict() const;

  /// Copies `state` into the existing parameter storage (held Variables see the new values).
  /// Everything is checked before anything is copied: a shape mismatch always throws; with
  /// `strict`, a parameter missing from `state` or a key in `state` that names no parameter
  /// throws too. Errors are std::invalid_argument naming the key (and both shapes).
  /// Parameters only: buffers keep their values.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  /// Parameters and buffers, with the same checks for both (a buffer's length plays the shape).
  void load_state_dict(const StateDict& state, bool strict = true);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter>& out) const;
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer>& out) const;
  void check_buffers(const std::map<std::string, std::vector<int64_t>>& state, bool strict) const;
  void set_requires_grad(bool requires_grad);

  std::vector<NamedParameter> parameters_;
  std::vector<NamedBuffer> buffers_;
  std::vector<NamedModule> children_;
  bool training_ = true;
};

/// A module whose forward maps one Variable to one Variable (activations, Linear, norms, ...).
class UnaryModule : public Module {
 public:
  /// Applies the module to `x`.
  virtual Variable forward(const Variable& x) = 0;
  /// Same as forward(x).
  Variable operator()(const Variable& x) { return forward(x); }
};

/// Numbered children, as torch.nn.ModuleList: registered under a parent as "layers", its i-th
/// module's parameters are named "layers.<i>.<name>".
class ModuleList : public Module {
 public:
  ModuleList() = default;
  /// Appends `module` as child "<size()>".
  void push_back(std::shared_ptr<Module> module);
  /// Number of modules.
  size_t size() const { return modules_.size(); }
  /// The i-th module (std::out_of_range past the end).
  const std::shared_ptr<Module>& operator[](size_t i) const { return modules_.at(i); }
  /// The i-th module cast to M; throws std::invalid_argument when it is not an M.
  template <class M>
  std::shared_ptr<M> at(size_t i) const {
    auto cast = std::dynamic_pointer_cast<M>(modules_.at(i));
    if (!cast) throw_wrong_type(i);
    return cast;
  }

 private:
  [[noreturn]] void throw_wrong_type(size_t i) const;
  std::vector<std::shared_ptr<Module>> modules_;
};

/// True when the glob `pattern` matches a dotted module or parameter name: fnmatch without
/// FNM_PATHNAME, so '*' matches any run of characters including dots, '?' one character and [...] a
/// set ("model.layers.*.self_attn.[qk]_proj"). The one glob of qforge: quantization rules
/// (fakequant/qat.h) and LoRA targets (layers/lora.h) both match names with it.
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace qforge::layers
