#include "exporters/hf/quant/adapter_ptq.h"

#include <stdexcept>

#include "exporters/hf/quant/adapter.h"

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
  if (!(tensor && options.strategy == Fp8Strategy::kTensor) && !(per_out_channel(g) && options.strategy == Fp8Strategy::kChannel)) {
    refuse(weight_name, layout, std::string("its granularity under strategy ") +
                                    (options.strategy == Fp8Strategy::kTensor ? "tensor" : "channel"));
  }
  Fp8Weight w{module_prefix(weight_name), q.shape[0], q.shape[1], {}, q.params.scales, input_scale};
  w.codes.assign(q.codes.begin(), q.codes.end());
  validate(w, options);
  return w;
}

}  // namespace qforge::exporters::hf::quant
