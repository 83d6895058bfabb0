#include "autograd/variable.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "autograd/kernels/elementwise.h"

namespace qforge::autograd {

namespace {
thread_local bool g_grad_mode = true;
}  // namespace

bool grad_mode_enabled() { return g_grad_mode; }

NoGradGuard::NoGradGuard() : previous_(g_grad_mode) { g_grad_mode = false; }

NoGradGuard::~NoGradGuard() { g_grad_mode = previous_; }

EnableGradGuard::EnableGradGuard() : previous_(g_grad_mode) { g_grad_mode = true; }

EnableGradGuard::~EnableGradGuard() { g_grad_mode = previous_; }

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<Impl>()) {
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

Variable::Variable(Tensor data, std::vector<Variable> inputs, GradFunction grad_function, const char* name)
    : impl_(std::make_shared<Impl>()) {
  impl_->data = std::move(data);
  impl_->name = name;
  bool any_requires = false;
  for (const Variable& input : inputs) any_requires = any_requires || input.requires_grad();
  if (g_grad_mode && any_requires) {
    impl_->requires_grad = true;
    impl_->inputs = std::move(inputs);
    impl_->grad_function = std::move(grad_function);
  }
}

void Variable::set_requires_grad(bool requires_grad) {
  if (!is_leaf()) throw std::logic_error(std::string("set_requires_grad: '") + impl_->name + "' is not a leaf");
  impl_->requires_grad = requires_grad;
}

const Tensor& Variable::grad() const {
  if (!impl_->grad.defined()) {
    throw std::logic_error(std::string("grad: no gradient has reached this variable (op '") + impl_->name +
                           "', shape " + shape().to_string() + ")");
  }
  return impl_->grad;
}

void Variable::add_grad(const Tensor& grad) {
  if (!impl_->requires_grad) return;
  if (grad.shape() != shape()) {
    throw std::invalid_argument(std::string("add_grad: gradient shape ") + grad.shape().to_string() +
                                " != data shape " + shape().to_string() + " at '" + impl_->name + "'");
  }
  // Out of place: the incoming tensor may be shared with another input's gradient.
  impl_->grad = impl_->grad.defined() ? kernels::add(impl_->grad, grad) : grad;
}

void Variable::backward(bool retain_graph) { backward(Tensor::full(shape(), 1.0f), retain_graph); }

void Variable::backward(const Tensor& grad_output, bool retain_graph) { run_backward(grad_output, retain_graph, nullptr); }

void Variable::backward(const LeafReadyFunction& on_leaf_ready) {
  run_backward(Tensor::full(shape(), 1.0f), false, &on_leaf_ready);
}

void Variable::run_backward(const Tensor& grad_output, bool retain_graph, const LeafReadyFunction* on_leaf_ready) {
  if (!requires_grad()) {
    throw std::logic_error(std::string("backward: '") + impl_->name + "' does not require grad");
  }
  // Iterative post-order DFS: deep graphs (long training unrolls) must not overflow the stack.
  std::vector<Variable> order;
  std::unordered_set<const Impl*> visited;
  std::vector<std::pair<Variable, size_t>> stack{{*this, 0}};
  visited.insert(impl_.get());
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    if (next_input < node.impl_->inputs.size()) {
      const Variable& input = node.impl_->inputs[next_input++];
      if (input.requires_grad() && visited.insert(input.impl_.get()).second) stack.emplace_back(input, 0);
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }
  // Per leaf, the graph nodes (counted per input slot: x * x uses x twice) still to run before its
  // gradient is final.
  std::unordered_map<const Impl*, int64_t> pending;
  if (on_leaf_ready) {
    for (const Variable& node : order)
      for (const Variable& input : node.impl_->inputs)
        if (input.is_leaf() && input.requires_grad()) ++pending[input.impl_.get()];
  }
  add_grad(grad_output);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Impl& node = *it->impl_;
    if (node.grad_function == nullptr) continue;
    // Inputs copied before the graph is freed below, for the ready count.
    const std::vector<Variable> inputs = on_leaf_ready ? node.inputs : std::vector<Variable>{};
    if (node.grad.defined()) {
      const Tensor grad = node.grad;
      node.grad_function(node.inputs, grad);
    }
    for (const Variable& input : inputs) {
      auto found = pending.find(input.impl_.get());
      if (found != pending.end() && --found->second == 0) (*on_leaf_ready)(input);
    }
    if (!node.grad.defined()) continue;
    // PyTorch semantics: only leaves keep their gradients.
    node.grad = Tensor();
    if (!retain_graph) {
      node.inputs.clear();
      node.grad_function = nullptr;
    }
  }
}

}  // namespace qforge::autograd
