#pragma once
// LlamaForCausalLM -> llama.cpp GGUF (arch "llama", SPM vocabulary); docs/gguf.md §2-§7.
//
// Vocabulary design (so llama.cpp tokenizes text to qforge's ids): qforge's token ids 0..n-1 keep
// their ids as GGUF tokens 0..n-1; then "<unk>", "<s>", "</s>" and every byte token "<0x00>".."<0xFF>"
// not already in the list are appended (llama.cpp needs all 256 byte tokens, §4). A space inside a
// token is written as U+2581 (SentencePiece's word marker, which llama.cpp's SPM tokenizer substitutes
// for ' '), and add_space_prefix / add_bos_token are false so no extra token is inserted.
// The GGUF token count is therefore >= the model's vocab_size: token_embd and output rows for the
// appended tokens are zero (their logit is 0, not -inf — sampling can pick them; greedy decoding on a
// trained model practically never does). The imported model has vocab_size = the GGUF token count.
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"
#include "layers/llama.h"

namespace qforge::exporters::gguf {

enum class LlamaFileType { kF32, kF16, kBF16, kQ8_0, kQ4_K_M, kIQ4_NL };

// "F32", "f16", "q4_k_m", ... (case-insensitive); std::invalid_argument for anything else.
LlamaFileType parse_llama_file_type(const std::string& name);
std::string llama_file_type_name(LlamaFileType type);
// general.file_type (llama_ftype): 0, 1, 32, 7, 15, 25.
uint32_t llama_ftype_id(LlamaFileType type);

// more_bits(i, n) of llama.cpp's use_more_bits (docs/gguf.md §7).
bool use_more_bits(int64_t i, int64_t n);

// The ggml type id the file type assigns to a tensor (docs/gguf.md §7 for Q4_K_M incl. the ne0 % 256 and
// ne0 % 32 fallbacks). `index`/`count`: the tensor's position among tensors of its kind (attn_v or
// ffn_down: layer order); `tied`: no output.weight in the file. 1-D tensors stay F32.
uint32_t llama_tensor_type(LlamaFileType type, const std::string& gguf_name, uint64_t ne0, int ndims,
                           int64_t index, int64_t count, bool tied);

// The ggml type id `type`'s mix gives every parameter of `model`, by Hugging Face parameter name
// ("model.layers.0.self_attn.v_proj.weight"): llama_tensor_type with the GGUF name, ne0, the layer
// index among attn_v / ffn_down tensors and the tied flag, exactly as build_llama_gguf assigns them
// (before LlamaExportOptions::tensor_types overrides). Format-exact QAT presets call it too
// (trainers/gguf_qat.h), so training and export cannot disagree on a tensor's type.
std::map<std::string, uint32_t> llama_mix_types(const layers::LlamaForCausalLM& model, LlamaFileType type);

// The final token list: vocabulary (spaces -> U+2581) plus the appended control and byte tokens.
std::vector<std::string> llama_gguf_tokens(const std::vector<std::string>& vocabulary);

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
  // ggml type id per GGUF tensor name, overriding the file type's mix (format-exact QAT writes the
  // types its fake-quant nodes trained with). A type whose block does not divide ne0 is an error.
  // These tensors are encoded without importance, as the QAT forward (fakequant/fake_quant_ggml.h)
  // quantizes them, so the file dequantizes to the trained weights bit for bit.
  std::map<std::string, uint32_t> tensor_types;
};

// Builds the file. vocabulary.size() must equal config.vocab_size (std::invalid_argument otherwise);
// tokens must be unique and non-empty.
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
