#pragma once
// Variable: a tensor in the dynamic autograd graph (define-by-run, as in flashlight and PyTorch).
// Each op returns a Variable that records its inputs and a backward function; backward() walks the
// graph in reverse topological order, accumulates gradients into the inputs and frees the graph.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace qforge::autograd {

class Variable {
 public:
  // Called with the op's inputs and the gradient of the op's output; calls inputs[i].add_grad(...)
  // for the inputs that require grad.
  using GradFunction = std::function<void(std::vector<Variable>& inputs, const Tensor& grad_output)>;

  Variable() = default;
  // A leaf: a parameter when requires_grad, a constant otherwise.
  explicit Variable(Tensor data, bool requires_grad = false);
  // The result of op `name`. It records inputs and backward only when grad mode is on and an
  // input requires grad; otherwise it is a constant leaf and keeps nothing alive.
  Variable(Tensor data, std::vector<Variable> inputs, GradFunction grad_function, const char* name);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const { return impl_->data; }
  Tensor& mutable_data() { return impl_->data; }  // for optimisers updating parameters in place
  const Shape& shape() const { return impl_->data.shape(); }
  int ndim() const { return shape().ndim(); }
  int64_t dim(int axis) const { return shape().dim(axis); }
  int64_t numel() const { return shape().numel(); }
  float item() const { return impl_->data.item(); }

  bool requires_grad() const { return impl_->requires_grad; }
  void set_requires_grad(bool requires_grad);  // leaves only
  bool is_leaf() const { return !impl_->grad_function; }
  const char* op_name() const { return impl_->name; }

  bool has_grad() const { return impl_->grad.defined(); }
  const Tensor& grad() const;  // throws when no gradient reached this variable
  void zero_grad() { impl_->grad = Tensor(); }
  // Accumulates `grad` (same shape as the data) into this variable's gradient.
  void add_grad(const Tensor& grad);

  // Gradient of this variable (seeded with ones, or with `grad_output`) into every leaf that
  // requires grad. Frees the graph unless retain_graph; intermediate gradients are not kept.
  void backward(bool retain_graph = false);
  void backward(const Tensor& grad_output, bool retain_graph = false);
  // Called once per leaf that requires grad, as soon as backward has run every graph node that
  // takes it as an input, so its gradient is final: data-parallel training starts that gradient's
  // all-reduce while the rest of backward runs (trainers/gradient_buckets.h). A leaf that gets its
  // gradient only inside another node's backward (a recompute of autograd::checkpoint) is not
  // announced; the caller finishes those after backward returns. Seeded with ones, graph freed.
  using LeafReadyFunction = std::function<void(const Variable& leaf)>;
  void backward(const LeafReadyFunction& on_leaf_ready);

  // Same data, cut from the graph, requires_grad false.
  Variable detach() const { return Variable(impl_->data, false); }
  // Identity of the underlying node (two copies of one Variable are the same node).
  const void* id() const { return impl_.get(); }

 private:
  struct Impl {
    Tensor data;
    Tensor grad;
    bool requires_grad = false;
    const char* name = "leaf";
    std::vector<Variable> inputs;
    GradFunction grad_function;
  };
  void run_backward(const Tensor& grad_output, bool retain_graph, const LeafReadyFunction* on_leaf_ready);

  std::shared_ptr<Impl> impl_;
};

// True while gradients are being recorded on this thread (the default).
bool grad_mode_enabled();

// Disables graph recording on this thread for its lifetime (evaluation, optimiser steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Enables graph recording on this thread for its lifetime, whatever the enclosing mode (the
// recompute of an activation checkpoint runs inside backward, which may itself run under
// NoGradGuard).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace qforge::autograd
