// Format 1 -> 2 (checkpoint_upgrade.h).
#include "trainers/checkpoint_upgrade.h"

#include <charconv>
#include <optional>
#include <string_view>

#include "fakequant/quantizer.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {
namespace {

constexpr std::string_view kQuantizerGroup = "group1.param";

bool is_legacy_state(const std::string& name) {
  const std::string suffix = std::string("_quantizer.") + fakequant::kLegacyQuantizerState;
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// For each group-1 index of format 1, its index in format 2, or -1 for a dropped "state".
std::vector<int64_t> quantizer_group_renumbering(const NamedTensors& model) {
  std::vector<int64_t> renumbered;
  int64_t next = 0;
  for (const auto& [name, tensor] : model) {
    if (is_quantizer_parameter(name)) renumbered.push_back(is_legacy_state(name) ? -1 : next++);
  }
  return renumbered;
}

// "group1.param<p>.<slot>" with p renumbered; nullopt drops the entry. Keys it cannot read pass
// unchanged, for Optimizer::load_state to report.
std::optional<std::string> renumbered_key(const std::string& key, const std::vector<int64_t>& renumbering) {
  if (key.compare(0, kQuantizerGroup.size(), kQuantizerGroup) != 0) return key;
  const char* begin = key.data() + kQuantizerGroup.size();
  size_t index = 0;
  const auto [end, error] = std::from_chars(begin, key.data() + key.size(), index);
  if (error != std::errc() || end == begin || index >= renumbering.size()) return key;
  if (renumbering[index] < 0) return std::nullopt;
  return std::string(kQuantizerGroup) + std::to_string(renumbering[index]) + std::string(end);
}

template <class Entries>
void renumber(Entries& entries, const std::vector<int64_t>& renumbering) {
  Entries kept;
  for (auto& [key, value] : entries) {
    if (auto renamed = renumbered_key(key, renumbering)) kept.emplace_back(std::move(*renamed), std::move(value));
  }
  entries = std::move(kept);
}

}  // namespace

void upgrade_from_format_1(Checkpoint& c) {
  const std::vector<int64_t> renumbering = quantizer_group_renumbering(c.model);
  NamedTensors parameters;
  bool upgraded = false;
  for (auto& [name, tensor] : c.model) {
    if (!is_legacy_state(name)) {
      parameters.emplace_back(std::move(name), std::move(tensor));
      continue;
    }
    const std::string quantizer = name.substr(0, name.size() - std::string_view(fakequant::kLegacyQuantizerState).size());
    c.buffers.emplace_back(quantizer + fakequant::kQuantizerCounters, fakequant::counters_from_legacy_state(tensor, name));
    upgraded = true;
  }
  c.model = std::move(parameters);
  if (!upgraded) return;
  renumber(c.optimizer, renumbering);
  renumber(c.counters, renumbering);
}

}  // namespace qforge::trainers
