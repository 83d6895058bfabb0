// The quip-sharp row of the --quant table (hf_quant_export.h): a `quantize --method quip_sharp:fused` run's
// QuIP# states as quip-sharp's own Llama loads them (docs/hf-quantized.md §10). Its model/llama.py builds
// every decoder Linear as a QuantizedLinear, q/k/v as one FusedQuantizedLinear qkv_proj and up/gate as
// upgate_proj (fakequant::quip_sharp_fused_modules), so every one must be QuIP#, and the parts of a fused
// module must be the rows of one fused state, in its order. embed_tokens, the norms and lm_head (an
// nn.Linear there) are float.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/adapter_ptq.h"

namespace qforge::exporters::hf {
namespace {

bool same_matrix(const fakequant::QuipSharpState& a, const fakequant::QuipSharpState& b) {
  return a.rows == b.rows && a.cols == b.cols && a.codes == b.codes && a.su == b.su && a.sv == b.sv && a.wscale == b.wscale;
}

// The state of a decoder Linear quip-sharp quantizes; refused naming it when it has none.
const fakequant::QuipSharpState& state_of(const LlamaExport& m, const HfQuantFormat& f, const std::string& weight) {
  const auto it = m.quip_sharp.find(weight);
  if (it != m.quip_sharp.end()) return it->second;
  if (m.quantized.count(weight) || m.group_index.count(weight) || m.spqr.count(weight) || m.packed_base.count(weight))
    refuse_codes(f, m, weight);
  refuse_quant(f, weight + " is float, but quip-sharp's model/llama.py builds every decoder Linear as a QuIP# "
                           "QuantizedLinear (quantize it: qforge quantize --checkpoint RUN --scheme fp16 --keep-float lm_head "
                           "--method quip_sharp:fused)");
}

// The loaded weight's largest difference to the run's forward (quip_sharp_weight), for the note.
double worst_difference(const quant::QuipSharpWeight& w, const fakequant::QuipSharpState& s, const std::vector<int64_t>& sizes) {
  fakequant::QuipSharpState whole = s;
  whole.row_begin = whole.row_end = 0;
  const std::vector<float> ours = fakequant::quip_sharp_weight(whole), theirs = quant::dequantize_quip_sharp(w, sizes);
  double worst = 0;
  for (size_t i = 0; i < ours.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(theirs[i]) - ours[i]));
  return worst;
}

// One fused module of decoder layer `prefix`: its parts' states must be the rows of one fused state,
// in the module's order. Its tensors go under the first part in file order; the others write none.
double pack_fused(const LlamaExport& m, const HfQuantFormat& f, const std::string& prefix,
                  const fakequant::QuipSharpFusedModule& module, const std::map<std::string, size_t>& file_order,
                  QuantizedExport& out) {
  const fakequant::QuipSharpState& first = state_of(m, f, prefix + module.parts[0] + ".weight");
  std::vector<int64_t> sizes;
  int64_t rows = 0;  // covered so far
  for (const std::string& part : module.parts) {
    const std::string weight = prefix + part + ".weight";
    const fakequant::QuipSharpState& s = state_of(m, f, weight);
    if (!s.is_slice())
      refuse_quant(f, weight + " is a QuIP# matrix of its own, but quip-sharp's model/llama.py holds " + prefix + module.name +
                          " as one matrix fused over its parts (quantize with --method quip_sharp:fused)");
    const int64_t begin = rows;
    if (!same_matrix(s, first) || s.row_begin != begin)
      refuse_quant(f, weight + " is not rows " + std::to_string(begin) + ".. of the fused matrix of " + prefix +
                          module.parts[0] + " (" + prefix + module.name + " stacks " + std::to_string(module.parts.size()) +
                          " parts in quip-sharp's order)");
    sizes.push_back(s.row_end - s.row_begin);
    rows = s.row_end;
    out.packed[weight] = {};
  }
  if (rows != first.rows)
    refuse_quant(f, prefix + module.name + ": its parts hold " + std::to_string(sizes.size()) + " slices that do not cover the " +
                        std::to_string(first.rows) + " fused rows");
  quant::QuipSharpWeight w;
  try {
    w = quant::quip_sharp_weight(prefix + module.name + ".weight", first);
  } catch (const std::invalid_argument& e) {
    refuse_quant(f, std::string(e.what()) + "; " + std::string(f.name) + " holds " + std::string(f.holds));
  }
  w.fuse_scales.assign(sizes.size(), 1.0f);  // qforge folds each part's scale into SV (ptq/quip_sharp_method.cpp)
  // The fused tensors go where the part first in file order (expected_tensors: q, k, v; gate, up) would be.
  std::string first_in_file = prefix + module.parts[0] + ".weight";
  for (const std::string& part : module.parts)
    if (file_order.at(prefix + part + ".weight") < file_order.at(first_in_file)) first_in_file = prefix + part + ".weight";
  out.packed[first_in_file] = quant::pack_quip_sharp(w);
  return worst_difference(w, first, sizes);
}

}  // namespace

QuantizedExport quantize_quip_sharp(const LlamaExport& m, const HfQuantFormat& f, const std::string&) {
  QuantizedExport out;
  double worst = 0;
  const layers::LlamaConfig& c = m.model->config();
  std::map<std::string, size_t> file_order;
  for (const ExpectedTensor& t : linear_weights(c)) file_order.emplace(t.name, file_order.size());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string prefix = "model.layers." + std::to_string(i) + ".";
    for (const fakequant::QuipSharpFusedModule& module : fakequant::quip_sharp_fused_modules())
      worst = std::max(worst, pack_fused(m, f, prefix, module, file_order, out));
    for (const char* single : {"self_attn.o_proj", "mlp.down_proj"}) {
      const std::string weight = prefix + single + ".weight";
      const fakequant::QuipSharpState& s = state_of(m, f, weight);
      quant::QuipSharpWeight w;
      try {
        w = quant::quip_sharp_weight(weight, s);
      } catch (const std::invalid_argument& e) {
        refuse_quant(f, std::string(e.what()) + "; " + std::string(f.name) + " holds " + std::string(f.holds));
      }
      out.packed[weight] = quant::pack_quip_sharp(w);
      worst = std::max(worst, worst_difference(w, s, {}));
    }
  }
  if (m.quip_sharp.count("lm_head.weight"))
    out.notes.push_back("lm_head.weight (QuIP#) is written as its decoded values: quip-sharp's lm_head is an nn.Linear");
  out.config_json = quant::quip_sharp_params();
  out.source = std::to_string(c.num_hidden_layers * 4) + " QuIP# E8P12 modules (qkv_proj, o_proj, upgate_proj, down_proj "
                                                          "per layer; 2 bits per weight)";
  char bound[32];
  std::snprintf(bound, sizeof bound, "%.3g", worst);
  out.notes.push_back(std::string("SU and SV * Wscale are fp16 in the file: the loaded weights differ from the run's by up to ") +
                      bound + " (docs/hf-quantized.md §10)");
  return out;
}

}  // namespace qforge::exporters::hf
