#include "exporters/hf/quant/adapter.h"

#include <stdexcept>

namespace qforge::exporters::hf::quant {
namespace {

[[noreturn]] void refuse(const std::string& weight_name, const std::string& what) {
  throw std::invalid_argument(weight_name + ": no Hugging Face integer layout for " + what);
}

// Columns per group of a 2-D [out, in] weight under `granularity`, or -1 for per-tensor.
int64_t group_size_of(const std::string& weight_name, const fakequant::GranularitySpec& granularity, int64_t in) {
  switch (granularity.kind) {
    case fakequant::Granularity::kPerGroup:
      return granularity.group_size;
    case fakequant::Granularity::kPerChannel:
      if (granularity.axis != 0 && granularity.axis != -2) refuse(weight_name, "per-channel scales along in");
      return in;
    case fakequant::Granularity::kPerTensor:
      return -1;
  }
  refuse(weight_name, "this granularity");
}

}  // namespace

std::string module_prefix(const std::string& weight_name) {
  const std::string suffix = ".weight";
  if (weight_name.size() > suffix.size() && weight_name.ends_with(suffix)) {
    return weight_name.substr(0, weight_name.size() - suffix.size());
  }
  return weight_name;
}

GroupedIntWeight grouped_int_weight(const std::string& weight_name, const fakequant::QuantizedTensor& q) {
  const fakequant::QuantizerSpec& spec = q.spec;
  if (spec.format != fakequant::ElementFormat::kInt || spec.is_ggml_block()) refuse(weight_name, spec.describe());
  if (q.shape.ndim() != 2) refuse(weight_name, "a tensor of " + std::to_string(q.shape.ndim()) + " dimensions");
  GroupedIntWeight w;
  w.name = module_prefix(weight_name);
  w.out = q.shape[0];
  w.in = q.shape[1];
  w.bits = spec.bits;
  const int64_t group_size = group_size_of(weight_name, fakequant::effective_granularity(q.shape, spec), w.in);
  w.group_size = group_size < 0 ? w.in : group_size;
  const int64_t params = w.out * w.groups();
  // One stored parameter per tensor is repeated for every row (group_size = in).
  const bool per_tensor = group_size < 0;
  const int32_t offset = spec.symmetric ? 1 << (spec.bits - 1) : 0;
  w.codes.resize(q.codes.size());
  for (size_t i = 0; i < q.codes.size(); ++i) w.codes[i] = q.codes[i] + offset;
  w.scales.resize(static_cast<size_t>(params));
  w.zeros.resize(static_cast<size_t>(params));
  for (int64_t p = 0; p < params; ++p) {
    const size_t from = per_tensor ? 0 : static_cast<size_t>(p);
    w.scales[p] = q.params.scales.at(from);
    w.zeros[p] = (spec.symmetric ? 0 : q.params.zero_points.at(from)) + offset;
  }
  validate(w);
  return w;
}

GroupedIntWeight grouped_int_weight(const std::string& weight_name, const fakequant::GroupIndexState& state,
                                    const std::vector<int64_t>& codes) {
  GroupedIntWeight w;
  w.name = module_prefix(weight_name);
  w.out = state.rows;
  w.in = state.cols;
  w.bits = state.bits;
  w.group_size = state.group_size;
  w.codes.assign(codes.begin(), codes.end());
  w.scales = state.scales;
  w.zeros.assign(state.zeros.begin(), state.zeros.end());
  w.g_idx.assign(state.g_idx.begin(), state.g_idx.end());
  validate(w);
  return w;
}

std::shared_ptr<const fakequant::PackedGroupIndexWeight> packed_group_index(const GroupedIntWeight& w) {
  validate(w);
  fakequant::GroupIndexState state;
  state.rows = w.out;
  state.cols = w.in;
  state.bits = w.bits;
  state.group_size = w.group_size;
  state.scales = w.scales;
  state.zeros.assign(w.zeros.begin(), w.zeros.end());
  state.g_idx.resize(static_cast<size_t>(w.in));
  for (int64_t i = 0; i < w.in; ++i) state.g_idx[static_cast<size_t>(i)] = w.group_of(i);
  return std::make_shared<fakequant::PackedGroupIndexWeight>(std::move(state),
                                                             std::vector<int64_t>(w.codes.begin(), w.codes.end()));
}

Bnb4BitWeight bnb_4bit_weight(const std::string& weight_name, const fakequant::Packed4BitWeight& packed) {
  return Bnb4BitWeight{module_prefix(weight_name), packed.rows(), packed.cols(), packed.blocks()};
}

}  // namespace qforge::exporters::hf::quant
