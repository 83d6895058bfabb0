// LoRA tensor naming and pairing (lora_adapter.h; docs/peft-lora.md §2).
#include "exporters/lora/lora_adapter.h"

#include <cmath>
#include <map>
#include <stdexcept>

namespace qforge::exporters::lora {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw std::invalid_argument(source + ": " + what);
}

}  // namespace

double LoraAdapterConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r);
}

std::string module_suffix(const std::string& module) {
  const size_t dot = module.rfind('.');
  return dot == std::string::npos ? module : module.substr(dot + 1);
}

std::vector<LoraPair> lora_pairs(const NamedTensors& tensors, int64_t r, const std::string& source) {
  std::map<std::string, LoraPair> by_module;
  const std::string a_suffix = kLoraASuffix, b_suffix = kLoraBSuffix;
  for (const auto& [name, t] : tensors) {
    const bool is_a = ends_with(name, a_suffix), is_b = ends_with(name, b_suffix);
    if (!is_a && !is_b) fail(source, "tensor '" + name + "' is not a LoRA weight (*.lora_A.weight / *.lora_B.weight)");
    const std::string module = name.substr(0, name.size() - (is_a ? a_suffix : b_suffix).size());
    if (t.shape().ndim() != 2) fail(source, "tensor '" + name + "' shape " + t.shape().to_string() + " is not 2-D");
    LoraPair& pair = by_module[module];
    pair.module = module;
    (is_a ? pair.a : pair.b) = &t;
  }
  std::vector<LoraPair> pairs;
  for (auto& [module, pair] : by_module) {
    if (!pair.a) fail(source, "tensor '" + module + a_suffix + "' missing (its lora_B exists)");
    if (!pair.b) fail(source, "tensor '" + module + b_suffix + "' missing (its lora_A exists)");
    const int64_t rank = r > 0 ? r : (pairs.empty() ? pair.a->shape()[0] : pairs.front().a->shape()[0]);
    if (pair.a->shape()[0] != rank)
      fail(source, "tensor '" + module + a_suffix + "' shape " + pair.a->shape().to_string() + ": rows != r " + std::to_string(rank));
    if (pair.b->shape()[1] != rank)
      fail(source, "tensor '" + module + b_suffix + "' shape " + pair.b->shape().to_string() + ": cols != r " + std::to_string(rank));
    pairs.push_back(pair);
  }
  return pairs;
}

}  // namespace qforge::exporters::lora
