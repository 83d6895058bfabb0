#include "exporters/hf/quant/hf_quant.h"

#include <cmath>
#include <stdexcept>

namespace qforge::exporters::hf::quant {
namespace {

[[noreturn]] void fail(const GroupedIntWeight& w, const std::string& what) {
  throw std::invalid_argument(w.name + ": " + what);
}

void check_size(const GroupedIntWeight& w, const char* field, size_t actual, int64_t expected) {
  if (static_cast<int64_t>(actual) != expected) {
    fail(w, std::string(field) + " has " + std::to_string(actual) + " values, expected " + std::to_string(expected));
  }
}

void check_grid(const GroupedIntWeight& w, const char* field, const std::vector<int32_t>& values) {
  const int32_t top = (1 << w.bits) - 1;
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] > top) {
      fail(w, std::string(field) + "[" + std::to_string(i) + "] = " + std::to_string(values[i]) + " outside 0.." +
                  std::to_string(top));
    }
  }
}

// Act-order g_idx: every group holds exactly group_size columns (docs/hf-quantized.md §2).
void check_g_idx(const GroupedIntWeight& w) {
  if (w.g_idx.empty()) return;
  check_size(w, "g_idx", w.g_idx.size(), w.in);
  std::vector<int64_t> members(static_cast<size_t>(w.groups()), 0);
  for (int64_t i = 0; i < w.in; ++i) {
    const int32_t g = w.g_idx[i];
    if (g < 0 || g >= w.groups()) {
      fail(w, "g_idx[" + std::to_string(i) + "] = " + std::to_string(g) + " outside 0.." +
                  std::to_string(w.groups() - 1));
    }
    ++members[g];
  }
  for (size_t g = 0; g < members.size(); ++g) {
    if (members[g] != w.group_size) {
      fail(w, "g_idx gives group " + std::to_string(g) + " " + std::to_string(members[g]) + " columns, expected " +
                  std::to_string(w.group_size));
    }
  }
}

}  // namespace

void validate(const GroupedIntWeight& w) {
  if (w.name.empty()) throw std::invalid_argument("hf quant: weight without a name");
  if (w.bits < 2 || w.bits > 8) fail(w, "bits " + std::to_string(w.bits) + " outside 2..8");
  if (w.out <= 0 || w.in <= 0) fail(w, "shape [" + std::to_string(w.out) + ", " + std::to_string(w.in) + "]");
  if (w.group_size <= 0 || w.in % w.group_size != 0) {
    fail(w, "group size " + std::to_string(w.group_size) + " does not divide in = " + std::to_string(w.in));
  }
  check_size(w, "codes", w.codes.size(), w.out * w.in);
  check_size(w, "scales", w.scales.size(), w.out * w.groups());
  check_size(w, "zeros", w.zeros.size(), w.out * w.groups());
  check_grid(w, "codes", w.codes);
  check_grid(w, "zeros", w.zeros);
  for (size_t i = 0; i < w.scales.size(); ++i) {
    if (!(w.scales[i] > 0.0f) || !std::isfinite(w.scales[i])) {
      fail(w, "scale[" + std::to_string(i) + "] = " + std::to_string(w.scales[i]) + " is not positive and finite");
    }
  }
  check_g_idx(w);
}

bool has_contiguous_groups(const GroupedIntWeight& w) {
  for (size_t i = 0; i < w.g_idx.size(); ++i) {
    if (w.g_idx[i] != static_cast<int64_t>(i) / w.group_size) return false;
  }
  return true;
}

std::vector<float> dequantize(const GroupedIntWeight& w) {
  validate(w);
  std::vector<float> out(static_cast<size_t>(w.out * w.in));
  for (int64_t o = 0; o < w.out; ++o) {
    for (int64_t i = 0; i < w.in; ++i) {
      const int64_t p = o * w.groups() + w.group_of(i);
      out[o * w.in + i] = w.scales[p] * static_cast<float>(w.codes[o * w.in + i] - w.zeros[p]);
    }
  }
  return out;
}

}  // namespace qforge::exporters::hf::quant
