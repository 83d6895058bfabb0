#pragma once
// llama.cpp's file types for arch "llama" and the ggml type each one gives every tensor
// (llama-quant.cpp llama_tensor_get_type; docs/gguf.md §7). The GGUF exporter, `quantize-gguf` and
// format-exact QAT presets (trainers/gguf_qat.h) all read this one mix, so the types a model trains
// with and the types a file is written in cannot disagree.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "layers/llama.h"

namespace qforge::exporters::gguf {

enum class LlamaFileType { kF32, kF16, kBF16, kQ8_0, kQ4_K_M, kIQ4_NL };

struct LlamaFileTypeInfo {
  LlamaFileType type;
  std::string_view name;  // llama-quantize's spelling: "Q4_K_M"
  uint32_t ftype;         // general.file_type (llama.h enum llama_ftype)
};
// The table of file types qforge writes, in the order help texts list them.
std::span<const LlamaFileTypeInfo> llama_file_types();
// "F32, F16, BF16, Q8_0, Q4_K_M, IQ4_NL": for help texts.
std::string llama_file_type_list();

// "F32", "f16", "q4_k_m", ... (case-insensitive); std::invalid_argument listing the table otherwise.
LlamaFileType parse_llama_file_type(const std::string& name);
std::string llama_file_type_name(LlamaFileType type);
// general.file_type (llama_ftype): 0, 1, 32, 7, 15, 25.
uint32_t llama_ftype_id(LlamaFileType type);

// more_bits(i, n) of llama.cpp's use_more_bits (docs/gguf.md §7).
bool use_more_bits(int64_t i, int64_t n);

// The ggml type id the file type assigns to a tensor (docs/gguf.md §7 for Q4_K_M incl. the ne0 % 256
// and ne0 % 32 fallbacks). `index`/`count`: the tensor's position among tensors of its kind (attn_v
// or ffn_down: layer order); `tied`: no output.weight in the file. 1-D tensors stay F32.
uint32_t llama_tensor_type(LlamaFileType type, const std::string& gguf_name, uint64_t ne0, int ndims,
                           int64_t index, int64_t count, bool tied);

// The ggml type id `type`'s mix gives every parameter of `model`, by Hugging Face parameter name
// ("model.layers.0.self_attn.v_proj.weight"): llama_tensor_type with the GGUF name, ne0, the layer
// index among attn_v / ffn_down tensors and the tied flag, exactly as build_llama_gguf assigns them
// (before LlamaExportOptions::tensor_types overrides).
std::map<std::string, uint32_t> llama_mix_types(const layers::LlamaForCausalLM& model, LlamaFileType type);

}  // namespace qforge::exporters::gguf
