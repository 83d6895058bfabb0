#include "cli/export_method.h"

#include <stdexcept>

#include "exporters/gguf/llama_exporter.h"
#include "exporters/gguf/llama_type_mix.h"
#include "ptq/gptq_ggml_method.h"
#include "trainers/calibration_tokens.h"

namespace qforge::cli {

std::string encode_with_method(exporters::ExportSource& source, const std::string& checkpoint, const std::string& file_type,
                               const std::string& method, int64_t chunks) {
  const auto [encoder, options] = ptq::parse_ggml_method(method);
  if (!source.model) throw std::invalid_argument("export --method: applies to model exports (--format gguf)");
  exporters::LlamaExport& lm = *source.model;
  if (!lm.ggml_types.empty())
    throw std::invalid_argument("export --method: " + checkpoint + " trained in ggml types already (QAT); export it without --method");
  const auto gguf_options = exporters::gguf::llama_export_options(lm, file_type, source.name);
  const auto types = exporters::gguf::llama_mix_types(*lm.model, gguf_options.type);
  const trainers::CalibrationTokens tokens = trainers::calibration_tokens(checkpoint);
  const int64_t chunk_size = lm.model->config().max_position_embeddings;
  lm.model->eval();
  const ptq::Calibration calibration = trainers::chunk_calibration(*lm.model, tokens.tokens, chunk_size, chunks);
  lm.encoded = encoder->encode(*lm.model, calibration, types, options);
  return std::string(encoder->name) + ": " + std::to_string(lm.encoded.size()) + " weights encoded from " +
         std::to_string(chunks) + " chunks of " + std::to_string(chunk_size) + " tokens of " + tokens.dataset;
}

}  // namespace qforge::cli
