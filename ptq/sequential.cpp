// The true-sequential walk (sequential.h), factored out of GPTQ's method.
#include "ptq/sequential.h"

#include <map>
#include <regex>
#include <stdexcept>
#include <span>

#include "autograd/variable.h"
#include "ptq/gptq.h"
#include "ptq/input_hooks.h"

namespace qforge::ptq {
namespace {

// Identity on the forward pass; accumulates the Hessian of the layer's (float) input.
class HessianHook : public layers::UnaryModule {
 public:
  explicit HessianHook(int64_t columns) : hessian_(columns) {}
  autograd::Variable forward(const autograd::Variable& x) override {
    hessian_.add(std::span<const float>(x.data().data(), static_cast<size_t>(x.numel())));
    return x;
  }
  const HessianAccumulator& hessian() const { return hessian_; }

 private:
  HessianAccumulator hessian_;
};

}  // namespace

std::vector<LinearTarget> linear_targets(layers::Module& model, const std::string& method) {
  std::vector<LinearTarget> targets;
  for (auto& [name, module] : model.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear) continue;
    auto quantizer = std::dynamic_pointer_cast<fakequant::Quantizer>(linear->weight_quantizer());
    if (quantizer) targets.push_back({name, linear, quantizer});
  }
  if (targets.empty()) throw std::invalid_argument("ptq " + method + ": no Linear has a weight quantizer (check the rules)");
  return targets;
}

std::vector<std::vector<LinearTarget>> sequential_subsets(const std::vector<LinearTarget>& targets) {
  static const std::regex stage(R"(^(.*\.layers\.\d+)\.(self_attn\.(q|k|v)_proj|self_attn\.o_proj|mlp\.(gate|up)_proj|mlp\.down_proj)$)");
  std::vector<std::vector<LinearTarget>> out;
  std::map<std::string, size_t> index;
  for (const LinearTarget& t : targets) {
    std::smatch m;
    std::string key = t.name;
    if (std::regex_match(t.name, m, stage)) {
      const std::string part = m[2];
      key = m[1].str() + (part.rfind("self_attn.o", 0) == 0 ? "#o" : part.rfind("self_attn", 0) == 0 ? "#qkv"
                                                             : part.rfind("mlp.down", 0) == 0 ? "#down" : "#gate_up");
    }
    if (!index.count(key)) index[key] = out.size(), out.emplace_back();
    out[index[key]].push_back(t);
  }
  return out;
}

void quantize_sequentially(layers::Module& model, const Calibration& calibration, const std::vector<LinearTarget>& targets,
                           const QuantizeLinear& quantize) {
  autograd::NoGradGuard no_grad;
  const FloatLinears float_inputs(model, FloatParts::kInputs);
  for (const std::vector<LinearTarget>& subset : sequential_subsets(targets)) {
    std::vector<std::shared_ptr<HessianHook>> hessians;
    std::vector<InputHook> hooks;
    for (const LinearTarget& t : subset) {
      hessians.push_back(std::make_shared<HessianHook>(t.linear->in_features()));
      hooks.emplace_back(t.linear, hessians.back());
    }
    run_with_input_hooks(hooks, calibration);
    for (size_t i = 0; i < subset.size(); ++i) quantize(subset[i], hessians[i]->hessian().matrix());
  }
}

}  // namespace qforge::ptq
