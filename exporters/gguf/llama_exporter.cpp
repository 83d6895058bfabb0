#include "exporters/gguf/llama_exporter.h"

#include <map>
#include <stdexcept>
#include <vector>

#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_tensor_names.h"

namespace qforge::exporters::gguf {

LlamaExportOptions llama_export_options(const LlamaExport& run, const std::string& file_type, const std::string& name) {
  LlamaExportOptions options;
  options.type = parse_llama_file_type(!file_type.empty() ? file_type : !run.preset.empty() ? run.preset : "F32");
  options.name = name;
  for (const auto& [parameter, ggml_type] : run.ggml_types) {
    const auto gguf_name = gguf_tensor_name(parameter);
    if (!gguf_name) throw std::invalid_argument("gguf export: trained parameter '" + parameter + "' has no GGUF name");
    options.tensor_types[*gguf_name] = ggml_type;
    const auto importance = run.ggml_importance.find(parameter);
    if (importance != run.ggml_importance.end()) options.tensor_importance[*gguf_name] = importance->second;
  }
  return options;
}

std::string export_llama_gguf(const ExportSource& source, const ExportOptions& options, const std::filesystem::path& out) {
  if (!source.model) throw std::logic_error("gguf export: the source has no model");
  const LlamaExport& lm = *source.model;
  if (lm.tokenizer_kind == "hf" || lm.tokenizer_kind == "ids")
    throw std::invalid_argument("gguf export: the run's tokenizer is " +
                                std::string(lm.tokenizer_kind == "hf" ? "a tokenizer.json" : "none (token ids)") +
                                ", which a qforge GGUF vocabulary (SentencePiece, char or byte runs) cannot hold; "
                                "use --format hf");
  LlamaExportOptions gguf_options = llama_export_options(lm, options.type, source.name);
  std::map<std::string, std::vector<float>> importance;
  if (!options.imatrix.empty()) {
    importance = read_export_importance(options.imatrix);
    gguf_options.importance = &importance;
  }
  if (!lm.encoded.empty()) gguf_options.encoded = &lm.encoded;
  write_llama_gguf(out, *lm.model, lm.vocabulary, gguf_options);
  return "wrote " + out.string() + " (" + llama_file_type_name(gguf_options.type) + ", " +
         std::to_string(gguf_options.tensor_types.size()) + " tensors in their trained GGUF types, " +
         std::to_string(lm.vocabulary.size()) + " tokens in the run's vocabulary" +
         (options.imatrix.empty() ? "" : ", with imatrix") +
         (lm.encoded.empty() ? "" : ", " + std::to_string(lm.encoded.size()) + " encoded by the method") + ")";
}

}  // namespace qforge::exporters::gguf
