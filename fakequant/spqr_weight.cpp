#include "fakequant/spqr_weight.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>


namespace qforge::fakequant {
namespace {

using autograd::Shape;
using autograd::Tensor;

constexpr int kRecord = 4;  // scale_scale, zero_scale, scale_zero, zero_zero
constexpr const char* kLayout = "spqr_layout";

layers::IntBuffer buffer_of(std::vector<int64_t> values) { return std::make_shared<std::vector<int64_t>>(std::move(values)); }

Tensor tensor_of(const std::vector<float>& values) {
  Tensor t(Shape{static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

void fail(const std::string& what) { throw std::invalid_argument("spqr weight: " + what); }

}  // namespace

SpqrGroupParams spqr_group_params(const SpqrState& state, int64_t row, int64_t group) {
  const SpqrLayout& l = state.layout;
  const float* record = state.second_order.data() + ((row / l.beta2) * l.groups() + group) * kRecord;
  const size_t i = static_cast<size_t>(row * l.groups() + group);
  // HF order: scale.scale, zero.scale, scale.zero, zero.zero.
  return {record[0] * (static_cast<float>(state.scale_codes[i]) - record[2]),
          record[1] * (static_cast<float>(state.zero_codes[i]) - record[3])};
}

int64_t spqr_code(double w, const SpqrGroupParams& p, int bits) {
  const double maxq = std::ldexp(1.0, bits) - 1.0;
  const double scale = std::max(static_cast<double>(p.scale), 1e-9);
  return static_cast<int64_t>(std::clamp(std::nearbyint(w / scale + static_cast<double>(p.zero)), 0.0, maxq));
}

SpqrWeightQuantizer::SpqrWeightQuantizer(const SpqrState& s) {
  const SpqrLayout& l = s.layout;
  layout_ = register_buffer(kLayout, buffer_of({l.rows, l.cols, l.bits, l.beta1, l.beta2, l.stat_bits}));
  permutation_ = register_buffer("permutation", buffer_of(s.permutation));
  scale_codes_ = register_buffer("scale_codes", buffer_of(s.scale_codes));
  zero_codes_ = register_buffer("zero_codes", buffer_of(s.zero_codes));
  outliers_ = register_buffer("outliers", buffer_of(s.outliers));
  second_order_ = register_parameter("second_order", tensor_of(s.second_order), /*requires_grad=*/false);
  check();
}

SpqrState SpqrWeightQuantizer::state() const {
  const std::vector<int64_t>& l = *layout_;
  SpqrState s;
  s.layout = {l[0], l[1], static_cast<int>(l[2]), l[3], l[4], static_cast<int>(l[5])};
  s.permutation = *permutation_;
  s.scale_codes = *scale_codes_;
  s.zero_codes = *zero_codes_;
  s.outliers = *outliers_;
  const Tensor& t = second_order_.data();
  s.second_order.assign(t.data(), t.data() + t.numel());
  return s;
}

void SpqrWeightQuantizer::check() const {
  const std::vector<int64_t>& l = *layout_;
  if (l.size() != 6) fail("layout has " + std::to_string(l.size()) + " values, not 6");
  const SpqrLayout layout = state().layout;
  if (layout.rows <= 0 || layout.cols <= 0 || layout.beta1 <= 0 || layout.beta2 <= 0) fail("layout sizes must be positive");
  if (layout.bits < 1 || layout.bits > 8 || layout.stat_bits < 1 || layout.stat_bits > 16) fail("bits out of range");
  const auto expect = [](size_t got, int64_t want, const std::string& name) {
    if (got != static_cast<size_t>(want)) fail(name + " has " + std::to_string(got) + " values, expected " + std::to_string(want));
  };
  const int64_t groups = layout.groups();
  expect(permutation_->size(), layout.cols, "permutation");
  expect(scale_codes_->size(), layout.rows * groups, "scale_codes");
  expect(zero_codes_->size(), layout.rows * groups, "zero_codes");
  expect(static_cast<size_t>(second_order_.numel()), layout.row_blocks() * groups * kRecord, "second_order");
  std::vector<bool> seen(static_cast<size_t>(layout.cols), false);
  for (int64_t c : *permutation_) {
    if (c < 0 || c >= layout.cols || seen[c]) fail("permutation is not a permutation of 0.." + std::to_string(layout.cols - 1));
    seen[c] = true;
  }
  const int64_t stat_max = (int64_t{1} << layout.stat_bits) - 1;
  for (const auto* codes : {scale_codes_.get(), zero_codes_.get()})
    for (int64_t c : *codes)
      if (c < 0 || c > stat_max) fail("statistic code " + std::to_string(c) + " is not a " + std::to_string(layout.stat_bits) + "-bit code");
  for (size_t i = 0; i < outliers_->size(); ++i) {
    const int64_t o = (*outliers_)[i];
    if (o < 0 || o >= layout.rows * layout.cols || (i > 0 && o <= (*outliers_)[i - 1])) fail("outlier indices must ascend inside the weight");
  }
}

std::vector<int64_t> SpqrWeightQuantizer::codes(const Tensor& weight) const {
  const SpqrState s = state();
  const SpqrLayout& l = s.layout;
  if (weight.numel() != l.rows * l.cols)
    fail("weight has " + std::to_string(weight.numel()) + " values, not " + std::to_string(l.rows) + " x " + std::to_string(l.cols));
  std::vector<int64_t> out(static_cast<size_t>(l.rows * l.cols));
  for (int64_t r = 0; r < l.rows; ++r) {
    for (int64_t g = 0; g < l.groups(); ++g) {
      const SpqrGroupParams p = spqr_group_params(s, r, g);
      for (int64_t j = g * l.beta1; j < std::min((g + 1) * l.beta1, l.cols); ++j) {
        const int64_t i = r * l.cols + s.permutation[j];
        out[i] = spqr_code(weight.data()[i], p, l.bits);
      }
    }
  }
  return out;
}

autograd::Variable SpqrWeightQuantizer::forward(const autograd::Variable& x) {
  const SpqrState s = state();
  const SpqrLayout& l = s.layout;
  const std::vector<int64_t> q = codes(x.data());
  Tensor out(x.shape());
  for (int64_t r = 0; r < l.rows; ++r) {
    for (int64_t g = 0; g < l.groups(); ++g) {
      const SpqrGroupParams p = spqr_group_params(s, r, g);
      for (int64_t j = g * l.beta1; j < std::min((g + 1) * l.beta1, l.cols); ++j) {
        const int64_t i = r * l.cols + s.permutation[j];
        out.data()[i] = spqr_dequantize(q[i], p);
      }
    }
  }
  for (int64_t i : s.outliers) out.data()[i] = x.data().data()[i];
  return autograd::Variable(out);
}

std::shared_ptr<SpqrWeightQuantizer> saved_spqr_quantizer(const std::string& prefix,
                                                          const std::map<std::string, std::vector<int64_t>>& buffers) {
  const auto layout = buffers.find(prefix + kLayout);
  if (layout == buffers.end()) return nullptr;
  const auto sized = [&](const std::string& buffer) {
    const auto it = buffers.find(prefix + buffer);
    return std::vector<int64_t>(it == buffers.end() ? 0 : it->second.size(), 0);
  };
  SpqrState s;
  const std::vector<int64_t>& l = layout->second;
  if (l.size() != 6) fail(prefix + kLayout + ": saved layout has " + std::to_string(l.size()) + " values, not 6");
  s.layout = {l[0], l[1], static_cast<int>(l[2]), l[3], l[4], static_cast<int>(l[5])};
  s.permutation.resize(static_cast<size_t>(s.layout.cols));
  for (int64_t c = 0; c < s.layout.cols; ++c) s.permutation[c] = c;
  s.scale_codes = sized("scale_codes");
  s.zero_codes = sized("zero_codes");
  s.outliers = sized("outliers");
  for (size_t i = 0; i < s.outliers.size(); ++i) s.outliers[i] = static_cast<int64_t>(i);  // placeholders, ascending
  s.second_order.assign(static_cast<size_t>(s.layout.row_blocks() * s.layout.groups() * kRecord), 0.0f);
  return std::make_shared<SpqrWeightQuantizer>(s);
}

}  // namespace qforge::fakequant
