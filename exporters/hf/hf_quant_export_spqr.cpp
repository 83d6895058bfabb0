// The spqr row of the --quant table (hf_quant_export.h): a `quantize --method spqr` run's SpQR states as
// transformers' SpQR layout (docs/hf-quantized.md §9).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "exporters/hf/hf_quant_export.h"
#include "exporters/hf/quant/adapter.h"
#include "exporters/hf/quant/adapter_ptq.h"

namespace qforge::exporters::hf {

QuantizedExport quantize_spqr(const LlamaExport& m, const HfQuantFormat& f, const std::string&) {
  QuantizedExport out;
  std::vector<quant::FileTensor> all;
  std::vector<std::string> float_weights;  // SpQR's modules_to_not_convert holds weight names
  double worst = 0.0;
  for (const ExpectedTensor& t : linear_weights(m.model->config())) {
    const auto s = t.name == "lm_head.weight" ? m.spqr.end() : m.spqr.find(t.name);
    if (s == m.spqr.end()) {
      if (t.name != "lm_head.weight" && (m.quantized.count(t.name) || m.group_index.count(t.name) || m.packed_base.count(t.name)))
        refuse_codes(f, m, t.name);
      float_weights.push_back(t.name);
      continue;
    }
    quant::SpqrWeight w;
    try {
      w = quant::spqr_weight(t.name, s->second.state, s->second.codes, s->second.latent);
    } catch (const std::invalid_argument& e) {
      refuse_quant(f, std::string(e.what()) + "; " + std::string(f.name) + " holds " + std::string(f.holds));
    }
    const std::vector<float> loaded = quant::dequantize_spqr(w);
    for (size_t i = 0; i < loaded.size(); ++i)
      worst = std::max(worst, std::fabs(static_cast<double>(loaded[i]) - s->second.latent[i]));
    std::vector<quant::FileTensor> packed = quant::pack_spqr(w);
    all.insert(all.end(), packed.begin(), packed.end());
    out.packed[t.name] = std::move(packed);
  }
  if (out.packed.empty())
    refuse_quant(f, "no Linear weight of the run has SpQR codes (qforge quantize --checkpoint RUN --method spqr "
                    "--scheme int3)");
  out.config_json = quant::spqr_config(all, float_weights);
  out.source = std::to_string(out.packed.size()) + " Linears SpQR (3-bit, 16 x 16 tiles)";
  char bound[32];
  std::snprintf(bound, sizeof bound, "%.3g", worst);
  out.notes.push_back(std::string("SpQR's statistics are fp16 in the file and its dequantization computes in fp16: the "
                                  "loaded weights differ from the run's by up to ") + bound +
                      " (docs/hf-quantized.md §9)");
  return out;
}

}  // namespace qforge::exporters::hf
