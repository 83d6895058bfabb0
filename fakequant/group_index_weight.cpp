#include "fakequant/group_index_weight.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "layers/linear.h"

namespace qforge::fakequant {
namespace {

using autograd::Shape;
using autograd::Tensor;

constexpr const char* kLayout = "gidx_layout";

layers::IntBuffer buffer_of(std::vector<int64_t> values) { return std::make_shared<std::vector<int64_t>>(std::move(values)); }

Tensor tensor_of(const std::vector<float>& values) {
  Tensor t(Shape{static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

void fail(const std::string& what) { throw std::invalid_argument("group-index weight: " + what); }

// GPTQ's code (ptq/gptq.h): a true division in double, ties to even, clamped to the grid.
int64_t code_of(float w, float scale, int64_t zero, double maxq) {
  const double q = std::nearbyint(static_cast<double>(w) / static_cast<double>(scale)) + static_cast<double>(zero);
  return static_cast<int64_t>(std::clamp(q, 0.0, maxq));
}

}  // namespace

GroupIndexWeightQuantizer::GroupIndexWeightQuantizer(const GroupIndexState& s) {
  layout_ = register_buffer(kLayout, buffer_of({s.rows, s.cols, s.bits, s.group_size}));
  g_idx_ = register_buffer("g_idx", buffer_of(s.g_idx));
  zeros_ = register_buffer("zeros", buffer_of(s.zeros));
  scales_ = register_parameter("scales", tensor_of(s.scales), /*requires_grad=*/false);
  check();
}

GroupIndexState GroupIndexWeightQuantizer::state() const {
  const std::vector<int64_t>& l = *layout_;
  GroupIndexState s;
  s.rows = l[0], s.cols = l[1], s.bits = static_cast<int>(l[2]), s.group_size = l[3];
  s.g_idx = *g_idx_;
  s.zeros = *zeros_;
  const Tensor& t = scales_.data();
  s.scales.assign(t.data(), t.data() + t.numel());
  return s;
}

void GroupIndexWeightQuantizer::check() const {
  if (layout_->size() != 4) fail("layout has " + std::to_string(layout_->size()) + " values, not 4");
  validate(state());
}

void validate(const GroupIndexState& s) {
  if (s.rows <= 0 || s.cols <= 0 || s.group_size <= 0) fail("rows, cols and group_size must be positive");
  if (s.bits < 2 || s.bits > 8) fail("bits " + std::to_string(s.bits) + " not in 2..8");
  const auto expect = [](size_t got, int64_t want, const std::string& name) {
    if (got != static_cast<size_t>(want)) fail(name + " has " + std::to_string(got) + " values, expected " + std::to_string(want));
  };
  const int64_t groups = s.groups();
  expect(s.g_idx.size(), s.cols, "g_idx");
  expect(s.scales.size(), s.rows * groups, "scales");
  expect(s.zeros.size(), s.rows * groups, "zeros");
  std::vector<int64_t> members(static_cast<size_t>(groups), 0);
  for (int64_t g : s.g_idx) {
    if (g < 0 || g >= groups) fail("g_idx " + std::to_string(g) + " not in 0.." + std::to_string(groups - 1));
    if (++members[g] > s.group_size) fail("group " + std::to_string(g) + " has more than " + std::to_string(s.group_size) + " columns");
  }
  for (float scale : s.scales)
    if (!(scale > 0) || !std::isfinite(scale)) fail("scale " + std::to_string(scale) + " is not positive and finite");
  const int64_t maxq = (int64_t{1} << s.bits) - 1;
  for (int64_t z : s.zeros)
    if (z < 0 || z > maxq) fail("zero " + std::to_string(z) + " not in 0.." + std::to_string(maxq));
}

std::vector<int64_t> GroupIndexWeightQuantizer::codes(const Tensor& weight) const {
  const GroupIndexState s = state();
  if (weight.numel() != s.rows * s.cols)
    fail("weight has " + std::to_string(weight.numel()) + " values, not " + std::to_string(s.rows) + " x " + std::to_string(s.cols));
  const double maxq = std::ldexp(1.0, s.bits) - 1.0;
  const int64_t groups = s.groups();
  std::vector<int64_t> out(static_cast<size_t>(s.rows * s.cols));
#pragma omp parallel for
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t c = 0; c < s.cols; ++c) {
      const size_t p = static_cast<size_t>(r * groups + s.g_idx[c]);
      out[r * s.cols + c] = code_of(weight.data()[r * s.cols + c], s.scales[p], s.zeros[p], maxq);
    }
  }
  return out;
}

autograd::Variable GroupIndexWeightQuantizer::forward(const autograd::Variable& x) {
  const GroupIndexState s = state();
  const std::vector<int64_t> q = codes(x.data());
  const int64_t groups = s.groups();
  Tensor out(x.shape());
#pragma omp parallel for
  for (int64_t r = 0; r < s.rows; ++r) {
    for (int64_t c = 0; c < s.cols; ++c) {
      const size_t p = static_cast<size_t>(r * groups + s.g_idx[c]);
      out.data()[r * s.cols + c] = s.scales[p] * static_cast<float>(q[r * s.cols + c] - s.zeros[p]);
    }
  }
  return autograd::Variable(out);
}

std::shared_ptr<GroupIndexWeightQuantizer> saved_group_index_quantizer(const std::string& prefix,
                                                                      const std::map<std::string, std::vector<int64_t>>& buffers) {
  const auto layout = buffers.find(prefix + kLayout);
  if (layout == buffers.end()) return nullptr;
  const std::vector<int64_t>& l = layout->second;
  if (l.size() != 4) fail(prefix + kLayout + ": saved layout has " + std::to_string(l.size()) + " values, not 4");
  // Placeholders of the saved sizes that pass check(); the load overwrites every one.
  GroupIndexState s;
  s.rows = l[0], s.cols = l[1], s.bits = static_cast<int>(l[2]), s.group_size = l[3];
  if (s.rows <= 0 || s.cols <= 0 || s.group_size <= 0) fail(prefix + kLayout + ": saved layout sizes must be positive");
  s.g_idx.resize(static_cast<size_t>(s.cols));
  for (int64_t c = 0; c < s.cols; ++c) s.g_idx[c] = c / s.group_size;
  s.scales.assign(static_cast<size_t>(s.rows * s.groups()), 1.0f);
  s.zeros.assign(static_cast<size_t>(s.rows * s.groups()), 0);
  return std::make_shared<GroupIndexWeightQuantizer>(s);
}

}  // namespace qforge::fakequant
