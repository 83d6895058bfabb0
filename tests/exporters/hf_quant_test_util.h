#pragma once
// Random integer weights for the exporters/hf/quant tests (test_hf_quant_layouts.cpp,
// test_hf_quant_reference.cpp). Seeds are explicit; act-order g_idx follows GPTQ's rule
// g_idx[c] = (position of column c in a random permutation) / group_size (docs/hf-quantized.md §2).
#include <algorithm>
#include <numeric>
#include <random>
#include <string>

#include "exporters/hf/quant/hf_quant.h"
#include "exporters/hf/quant/hf_quant_layouts.h"
#include "fakequant/formats/half.h"

namespace qforge::testing {

namespace hq = qforge::exporters::hf::quant;

struct RandomWeightSpec {
  std::string name = "model.layers.0.mlp.up_proj";
  int64_t out = 64, in = 128;
  int bits = 4;
  int64_t group_size = 32;     // -1: one group per row
  bool symmetric = true;       // zeros 2^(bits-1); else uniform in min_zero .. 2^bits - 1
  int min_zero = 0;
  bool act_order = false;
  bool f16_exact_scales = true;  // scales already F16 values (else arbitrary float32, rounded by the packer)
  uint32_t seed = 1;
};

inline hq::GroupedIntWeight random_weight(const RandomWeightSpec& s) {
  std::mt19937 rng(s.seed);
  hq::GroupedIntWeight w;
  w.name = s.name;
  w.out = s.out;
  w.in = s.in;
  w.bits = s.bits;
  w.group_size = s.group_size == -1 ? s.in : s.group_size;
  const int top = (1 << s.bits) - 1;
  std::uniform_int_distribution<int> code(0, top), zero(s.min_zero, top);
  std::uniform_real_distribution<float> scale(1e-3f, 0.1f);
  for (int64_t i = 0; i < w.out * w.in; ++i) w.codes.push_back(code(rng));
  for (int64_t p = 0; p < w.out * w.groups(); ++p) {
    w.zeros.push_back(s.symmetric ? 1 << (s.bits - 1) : zero(rng));
    const float v = scale(rng);
    w.scales.push_back(s.f16_exact_scales ? fakequant::round_to_fp16(v) : v);
  }
  if (s.act_order) {
    std::vector<int32_t> perm(static_cast<size_t>(w.in));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    w.g_idx.resize(perm.size());
    for (int64_t position = 0; position < w.in; ++position) {
      w.g_idx[perm[position]] = static_cast<int32_t>(position / w.group_size);
    }
  }
  return w;
}

inline hq::HfQuantOptions options_for(const RandomWeightSpec& s) {
  hq::HfQuantOptions o;
  o.bits = s.bits;
  o.group_size = s.group_size;
  o.symmetric = s.symmetric;
  o.act_order = s.act_order;
  return o;
}

inline hq::FileTensors by_name(const std::vector<hq::FileTensor>& tensors) {
  hq::FileTensors map;
  for (const hq::FileTensor& t : tensors) map.emplace(t.name, t);
  return map;
}

// g_idx as the unpackers return it (always filled).
inline hq::GroupedIntWeight with_filled_g_idx(hq::GroupedIntWeight w) {
  if (w.g_idx.empty()) {
    for (int64_t i = 0; i < w.in; ++i) w.g_idx.push_back(static_cast<int32_t>(i / w.group_size));
  }
  return w;
}

}  // namespace qforge::testing
