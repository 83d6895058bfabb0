#pragma once
// GPTQ into ggml types on a whole model (docs/gguf.md §12): what `qforge export --format gguf --method
// gptq` runs before writing the file. Every Linear whose weight the file type's mix gives a ggml type
// with a fixed-grid rounding (Q4_K, Q6_K, Q8_0, IQ4_NL: fakequant/formats/ggml/block_rounding.h) is
// quantized with ptq/gptq_ggml.h from the Hessian of its inputs over the calibration batches, in
// GPTQ's true-sequential walk (ptq/sequential.h); its weight is replaced by the decoded values,
// so later layers are observed through the quantized ones, and its encoded rows are returned for the
// exporter to write as they are. Everything else (embeddings, norms, types without a rounding, e.g.
// the Q5_0 fallback) is left to the exporter's plain codecs.
//
// Options ("gptq:damp=0.01,block=256"): damp (fraction of mean diag H, default 0.01), block (columns
// per lazy batch, default 256, rounded up to whole codec blocks), no_importance (the codecs'
// unweighted searches), rtn (only the Hessian's diagonal: no feedback, i.e. the codec with the
// calibration imatrix as importance, llama-quantize --imatrix's bytes: the baseline GPTQ is measured
// against).
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "fakequant/formats/ggml/block_rounding.h"
#include "layers/module.h"
#include "ptq/method.h"

namespace qforge::ptq {

// One way of encoding a model's weights into ggml types itself; the CLI's `export --method` reads this table.
struct GgmlMethod {
  std::string_view name, summary, reference;
  // `types`: the ggml type id of each parameter by name (the file type's mix); returns the encoded rows
  // by parameter name. Options as "gptq:<options>"; std::invalid_argument naming an unknown one.
  std::map<std::string, fakequant::ggml::EncodedRows> (*encode)(layers::Module& model, const Calibration& calibration,
                                                                const std::map<std::string, uint32_t>& types,
                                                                const std::string& options);
};

std::span<const GgmlMethod> ggml_methods();
// "gptq:damp=0.01" -> the gptq row and "damp=0.01"; std::invalid_argument listing the names otherwise.
std::pair<const GgmlMethod*, std::string> parse_ggml_method(const std::string& text);
std::string ggml_method_help();

std::map<std::string, fakequant::ggml::EncodedRows> gptq_ggml_encode(layers::Module& model, const Calibration& calibration,
                                                                     const std::map<std::string, uint32_t>& types,
                                                                     const std::string& options);

}  // namespace qforge::ptq
