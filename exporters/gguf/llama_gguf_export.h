#pragma once
// LlamaForCausalLM -> llama.cpp GGUF (arch "llama", or "qwen2" for a model with q/k/v biases:
// gguf_architecture.h); docs/gguf.md §2-§7, §13, §14. The vocabulary is llama_vocabulary.h's SentencePiece
// layout, or a "gpt2" one (tokenizers/gguf_bpe.h) for a byte-level BPE tokenizer; the tensor types are
// llama_type_mix.h's.
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"
#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_type_mix.h"
#include "exporters/tokenizers/bpe_tokenizer.h"
#include "fakequant/formats/ggml/block_rounding.h"
#include "layers/llama.h"

namespace qforge::exporters::gguf {

struct LlamaGguf {
  GgufFile file;
  std::vector<std::vector<std::byte>> tensor_bytes;  // one per file.tensors entry
};

struct LlamaExportOptions {
  LlamaFileType type = LlamaFileType::kF32;
  std::string name = "qforge-llama";  // general.name
  // Importance (imatrix: mean x^2 per input channel, ne0 values) by GGUF tensor name
  // ("blk.0.attn_q.weight"); the codecs that take one (Q4_K, Q6_K, IQ4_NL, Q5_0) minimise the weighted error.
  // Tensors without an entry are quantized unweighted. Not owned; may be null.
  const std::map<std::string, std::vector<float>>* importance = nullptr;
  // Written as llama-quantize's quantize.imatrix.* keys when set (with `importance`).
  std::optional<ImatrixRecord> imatrix_record;
  // ggml type id per GGUF tensor name, overriding the file type's mix (format-exact QAT writes the
  // types its fake-quant nodes trained with). A type whose block does not divide ne0 is an error.
  // These tensors are encoded with tensor_importance's entry or else without importance, as the QAT
  // forward (fakequant/fake_quant_ggml.h) quantized them, so the file dequantizes to the trained
  // weights bit for bit; `importance` does not apply to them.
  std::map<std::string, uint32_t> tensor_types;
  std::map<std::string, std::vector<float>> tensor_importance;  // by GGUF name: what QAT weighted with
  // Tensor data already encoded (LlamaExport::encoded), by Hugging Face parameter name, rows in its HF
  // order: copied row by row into the GGUF layout (Q/K rows permuted, token rows padded with the codec's
  // zeros) in its own type, which must be the mix's. Not owned; may be null.
  const std::map<std::string, fakequant::ggml::EncodedRows>* encoded = nullptr;
  // A byte-level BPE tokenizer (a run trained with a tokenizer.json): written as a "gpt2" vocabulary
  // (docs/gguf.md §14) instead of the SentencePiece one of `vocabulary`, which is then ignored; ids
  // the model has rows for and the tokenizer has no token for become "[PAD<id>]" (unused). Not owned; may be null.
  const tokenizers::BpeTokenizer* bpe = nullptr;
  std::optional<int64_t> bos_token_id, eos_token_id;  // gpt2 vocabulary: the source's own, if it states them
};

// Builds the file. Without options.bpe, vocabulary.size() must equal config.vocab_size (std::invalid_argument
// otherwise) and tokens must be unique and non-empty. std::invalid_argument when no architecture of
// gguf_architecture.h expresses the model.
LlamaGguf build_llama_gguf(const layers::LlamaForCausalLM& model, const std::vector<std::string>& vocabulary,
                           const LlamaExportOptions& options);
LlamaGguf build_llama_gguf(const layers::LlamaForCausalLM& model, const std::vector<std::string>& vocabulary,
                           LlamaFileType type, const std::string& name = "qforge-llama");

void write_llama_gguf(const std::filesystem::path& path, const layers::LlamaForCausalLM& model,
                      const std::vector<std::string>& vocabulary, const LlamaExportOptions& options);
void write_llama_gguf(const std::filesystem::path& path, const layers::LlamaForCausalLM& model,
                      const std::vector<std::string>& vocabulary, LlamaFileType type,
                      const std::string& name = "qforge-llama");

}  // namespace qforge::exporters::gguf
