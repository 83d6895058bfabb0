#include "layers/lora.h"

#include <cmath>
#include <memory>
#include <stdexcept>

#include "layers/init.h"
#include "layers/linear.h"

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

bool glob_match(const std::string& pattern, const std::string& path) {
  // Iterative wildcard matching with one backtrack point (the last '*').
  size_t p = 0, s = 0, star = std::string::npos, mark = 0;
  while (s < path.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == path[s])) {
      ++p, ++s;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = s;
    } else if (star != std::string::npos) {
      p = star + 1, s = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
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

}  // namespace qforge::layers
