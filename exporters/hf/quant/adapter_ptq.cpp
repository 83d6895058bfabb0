#include "exporters/hf/quant/adapter_ptq.h"

#include <algorithm>
#include <stdexcept>

#include "exporters/hf/quant/adapter.h"
#include "fakequant/formats/e8p.h"
#include "fakequant/formats/half.h"

namespace qforge::exporters::hf::quant {
namespace {

[[noreturn]] void refuse(const std::string& weight_name, const std::string& layout, const std::string& what) {
  throw std::invalid_argument(weight_name + ": no " + layout + " layout for " + what);
}

bool per_out_channel(const fakequant::GranularitySpec& g) {
  return g.kind == fakequant::Granularity::kPerChannel && (g.axis == 0 || g.axis == -2);
}

}  // namespace

BnbInt8Weight bnb_int8_weight(const std::string& weight_name, const fakequant::QuantizedTensor& q) {
  const fakequant::QuantizerSpec& s = q.spec;
  const char* layout = "bitsandbytes int8";
  if (s.format != fakequant::ElementFormat::kInt || s.bits != 8 || !s.symmetric || s.is_ggml_block() ||
      s.block_scales.enabled()) {
    refuse(weight_name, layout, s.describe() + " (LLM.int8() stores int8 symmetric codes)");
  }
  if (q.shape.ndim() != 2) refuse(weight_name, layout, "a tensor of " + std::to_string(q.shape.ndim()) + " dimensions");
  if (!per_out_channel(fakequant::effective_granularity(q.shape, s))) {
    refuse(weight_name, layout, "scales other than one per output channel");
  }
  BnbInt8Weight w{module_prefix(weight_name), q.shape[0], q.shape[1], {}, {}};
  w.codes.assign(q.codes.begin(), q.codes.end());
  for (float scale : q.params.scales) w.row_absmax.push_back(scale * 127.0f);
  validate(w);
  return w;
}

Fp8Weight fp8_weight(const std::string& weight_name, const fakequant::QuantizedTensor& q, const Fp8Options& options,
                     std::optional<float> input_scale) {
  const fakequant::QuantizerSpec& s = q.spec;
  const char* layout = "FP8 float-quantized";
  if (s.format != fakequant::ElementFormat::kFp8E4M3 || s.block_scales.enabled()) {
    refuse(weight_name, layout, s.describe() + " (E4M3 with plain scales is stored)");
  }
  if (q.shape.ndim() != 2) refuse(weight_name, layout, "a tensor of " + std::to_string(q.shape.ndim()) + " dimensions");
  const fakequant::GranularitySpec g = fakequant::effective_granularity(q.shape, s);
  const bool tensor = g.kind == fakequant::Granularity::kPerTensor;
  if (!(tensor && options.strategy == Fp8Strategy::kTensor) &&
      !(per_out_channel(g) && options.strategy == Fp8Strategy::kChannel)) {
    refuse(weight_name, layout,
           std::string("its granularity under strategy ") +
               (options.strategy == Fp8Strategy::kTensor ? "tensor" : "channel"));
  }
  Fp8Weight w{module_prefix(weight_name), q.shape[0], q.shape[1], {}, q.params.scales, input_scale};
  w.codes.assign(q.codes.begin(), q.codes.end());
  validate(w, options);
  return w;
}

SpqrWeight spqr_weight(const std::string& weight_name, const fakequant::SpqrState& state,
                       const std::vector<int64_t>& codes, const std::vector<float>& latent_weight) {
  const fakequant::SpqrLayout& l = state.layout;
  if (l.bits != 3 || l.stat_bits != 3 || l.beta1 != kSpqrTile || l.beta2 != kSpqrTile) {
    refuse(weight_name, "SpQR",
           "bits " + std::to_string(l.bits) + ", stat_bits " + std::to_string(l.stat_bits) + ", beta1 " +
               std::to_string(l.beta1) + ", beta2 " + std::to_string(l.beta2) + " (only 3, 3, 16, 16)");
  }
  const size_t numel = static_cast<size_t>(l.rows * l.cols);
  const bool in_range =
      std::all_of(state.permutation.begin(), state.permutation.end(), [&](int64_t c) { return c >= 0 && c < l.cols; });
  if (codes.size() != numel || latent_weight.size() != numel ||
      state.permutation.size() != static_cast<size_t>(l.cols) || !in_range) {
    refuse(weight_name, "SpQR",
           "codes, weight or permutation that disagree with [" + std::to_string(l.rows) + ", " +
               std::to_string(l.cols) + "]");
  }
  SpqrWeight w{module_prefix(weight_name), l.rows, l.cols, std::vector<uint8_t>(numel), {}, {}, {}, {}, {}};
  std::vector<int64_t> position(static_cast<size_t>(l.cols));  // permuted position of each input column
  for (int64_t j = 0; j < l.cols; ++j) {
    w.permutation.push_back(static_cast<uint16_t>(state.permutation[j]));
    position[static_cast<size_t>(state.permutation[j])] = j;
    for (int64_t r = 0; r < l.rows; ++r)
      w.codes[r * l.cols + j] = static_cast<uint8_t>(codes[r * l.cols + state.permutation[j]]);
  }
  w.scale_codes.assign(state.scale_codes.begin(), state.scale_codes.end());
  w.zero_codes.assign(state.zero_codes.begin(), state.zero_codes.end());
  for (float v : state.second_order) w.second_order.push_back(fakequant::encode_fp16(v));
  validate(w);  // before spqr_dense_value reads the statistics
  for (int64_t flat : state.outliers) {
    const int64_t r = flat / l.cols, j = position[static_cast<size_t>(flat % l.cols)];
    const float dense = fakequant::decode_fp16(spqr_dense_value(w, r, j));
    const uint16_t addend = fakequant::encode_fp16(latent_weight[static_cast<size_t>(flat)] - dense);
    if ((addend & 0x7FFF) != 0) w.outliers.push_back({r, j, addend});
  }
  std::sort(w.outliers.begin(), w.outliers.end(), [](const SpqrOutlier& a, const SpqrOutlier& b) {
    return a.row != b.row ? a.row < b.row : a.column < b.column;
  });
  validate(w);
  return w;
}

QuipSharpWeight quip_sharp_weight(const std::string& weight_name, const fakequant::QuipSharpState& state) {
  QuipSharpWeight w{module_prefix(weight_name), state.rows, state.cols, {}, {}, {}, 1.0f, {}};
  if (state.codes.size() != static_cast<size_t>(state.rows * state.cols / fakequant::kE8pDim) ||
      state.su.size() != static_cast<size_t>(state.cols) || state.sv.size() != static_cast<size_t>(state.rows)) {
    refuse(weight_name, "QuIP#",
           "codes or signs whose sizes disagree with [" + std::to_string(state.rows) + ", " +
               std::to_string(state.cols) + "]");
  }
  for (int64_t c : state.codes) {
    if (c < 0 || c >= fakequant::kE8pCodes) refuse(weight_name, "QuIP#", "code " + std::to_string(c));
    w.codes.push_back(static_cast<uint16_t>(c));
  }
  for (float v : state.su) w.su.push_back(fakequant::encode_fp16(v));
  for (float v : state.sv) w.sv.push_back(fakequant::encode_fp16(v * state.wscale));
  validate(w);
  return w;
}

}  // namespace qforge::exporters::hf::quant
