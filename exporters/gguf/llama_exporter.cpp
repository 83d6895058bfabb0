#include "exporters/gguf/llama_exporter.h"

#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/tokenizers/tokenizer_json.h"

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
  if (lm.tokenizer_kind == "ids")
    throw std::invalid_argument("gguf export: the run has no tokenizer (token ids), and a GGUF file needs a "
                                "vocabulary; use --format hf");
  LlamaExportOptions gguf_options = llama_export_options(lm, options.type, source.name);
  // A tokenizer.json (byte-level BPE) becomes a "gpt2" vocabulary (docs/gguf.md §14).
  std::optional<tokenizers::BpeTokenizer> bpe;
  std::string differs;  // what llama.cpp's tokenizer of that pre name does not do as the tokenizer.json does
  if (lm.tokenizer_kind == "hf") {
    bpe = tokenizers::parse_tokenizer_json(lm.tokenizer_json, "the run's tokenizer.json");
    gguf_options.bpe = &*bpe;
    gguf_options.bos_token_id = lm.bos_token_id;
    gguf_options.eos_token_id = lm.eos_token_id;
    // llama-vocab.cpp: no normalizer for BPE, ignore_merges decided by the pre name (docs/gguf.md §14).
    const tokenizers::BpeOptions& o = bpe->options();
    if (o.nfc) differs += "; llama.cpp applies no NFC normalizer: ids differ on text not in NFC";
    if (o.ignore_merges != tokenizers::pre_tokenizer_gguf_name(o.pre, o.ignore_merges).ignore_merges)
      differs += "; llama.cpp's ignore_merges for this pre-tokenizer differs from the tokenizer.json's";
  }
  std::map<std::string, std::vector<float>> importance;
  if (!options.imatrix.empty()) {
    importance = read_export_importance(options.imatrix);
    gguf_options.importance = &importance;
    gguf_options.imatrix_record = imatrix_record(options.imatrix, importance.size());
  }
  if (!lm.encoded.empty()) gguf_options.encoded = &lm.encoded;
  write_llama_gguf(out, *lm.model, lm.vocabulary, gguf_options);
  return "wrote " + out.string() + " (" + llama_file_type_name(gguf_options.type) + ", " +
         std::to_string(gguf_options.tensor_types.size()) + " tensors in their trained GGUF types, " +
         std::to_string(lm.vocabulary.size()) + " tokens in the run's vocabulary" + (bpe ? ", gpt2 vocabulary" : "") +
         (options.imatrix.empty() ? "" : ", with imatrix") +
         (lm.encoded.empty() ? "" : ", " + std::to_string(lm.encoded.size()) + " encoded by the method") + ")" + differs;
}

}  // namespace qforge::exporters::gguf
