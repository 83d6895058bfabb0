#include "layers/lora.h"

#include <cmath>
#include <memory>
#include <stdexcept>

#include "layers/init.h"
#include "layers/linear.h"
#include "layers/module.h"

namespace qforge::layers {

namespace {

// FNV-1a: a stable hash of the path (std::hash is not stable across standard libraries), so an
// adapter's initial values depend only on options.seed and its path.
uint64_t path_hash(const std::string& path) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : path) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

std::string last_component(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

bool is_adapter_part(const std::string& path) {
  const std::string last = last_component(path);
  return last == "lora_A" || last == "lora_B";
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

double LoraOptions::scale() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

void LoraOptions::validate() const {
  if (rank <= 0) throw std::invalid_argument("LoraOptions: rank must be positive, got " + std::to_string(rank));
  if (!(dropout >= 0 && dropout < 1)) {
    throw std::invalid_argument("LoraOptions: dropout must be in [0, 1), got " + std::to_string(dropout));
  }
  if (!std::isfinite(alpha)) throw std::invalid_argument("LoraOptions: alpha must be finite");
}

std::vector<std::string> apply_lora(Module& root, const std::vector<std::string>& targets, const LoraOptions& options) {
  options.validate();
  if (targets.empty()) throw std::invalid_argument("apply_lora: no target modules given");
  // Collect first: add_lora registers new Linears (lora_A, lora_B) below the matched ones.
  std::vector<std::pair<std::string, Linear*>> matched;
  for (const auto& [path, module] : root.named_modules()) {
    auto* linear = dynamic_cast<Linear*>(module.get());
    if (linear == nullptr || is_adapter_part(path)) continue;
    for (const auto& target : targets) {
      if (last_component(path) == target || glob_match(target, path)) {
        matched.emplace_back(path, linear);
        break;
      }
    }
  }
  if (matched.empty()) {
    throw std::invalid_argument("apply_lora: no Linear matches the targets [" + joined(targets) +
                                "] (matched against the last path component, or as a glob on the whole path)");
  }
  // Checked before any change, so a failed call leaves the model as it was.
  for (const auto& [path, linear] : matched) {
    if (linear->has_lora()) throw std::logic_error("apply_lora: '" + path + "' already has a LoRA adapter");
  }
  std::vector<std::string> adapted;
  for (const auto& [path, linear] : matched) {
    LoraOptions local = options;
    local.seed = derive_seed(options.seed, path_hash(path));
    linear->add_lora(local);
    adapted.push_back(path);
  }
  return adapted;
}

void add_lora_product(autograd::Tensor& weight, const autograd::Tensor& a, const autograd::Tensor& b, float scale,
                      const std::string& name) {
  if (a.shape().ndim() != 2 || b.shape().ndim() != 2 || a.shape()[0] != b.shape()[1])
    throw std::invalid_argument("lora merge: '" + name + "' lora_A " + a.shape().to_string() + " and lora_B " +
                                b.shape().to_string() + " are not [r, in] and [out, r]");
  const int64_t r = a.shape()[0], in = a.shape()[1], out = b.shape()[0];
  if (weight.shape().ndim() != 2 || weight.shape()[0] != out || weight.shape()[1] != in)
    throw std::invalid_argument("lora merge: tensor '" + name + "' shape " + weight.shape().to_string() +
                                " != [lora_B rows " + std::to_string(out) + ", lora_A cols " + std::to_string(in) + "]");
  const float* pa = a.data();
  const float* pb = b.data();
  float* w = weight.data();
#pragma omp parallel for
  for (int64_t o = 0; o < out; ++o) {
    std::vector<float> row(static_cast<size_t>(in), 0.0f);
    for (int64_t k = 0; k < r; ++k) {
      const float bk = pb[o * r + k];
      for (int64_t i = 0; i < in; ++i) row[i] += bk * pa[k * in + i];
    }
    for (int64_t i = 0; i < in; ++i) w[o * in + i] += scale * row[i];
  }
}

}  // namespace qforge::layers
