#pragma once
// llama.cpp LoRA adapter GGUF files (docs/gguf.md §10, verified against llama.cpp's
// llama-adapter.cpp): general.type "adapter", general.architecture the base's (llama, or qwen2 for q/k/v
// biases: gguf_architecture.h; only llama permutes), adapter.type "lora",
// adapter.lora.alpha f32; tensors "<GGUF base name>.lora_a" ne [in, r] (= lora_A [r, in] row-major)
// and ".lora_b" ne [r, out] (= lora_B [out, r]). qforge's Llama uses HF's half-split rope, so lora_b
// rows of attn_q / attn_k get the same row permutation as the base weights (§5); lora_a is unchanged.
#include <filesystem>

#include "exporters/lora/lora_adapter.h"
#include "layers/llama_config.h"

namespace qforge::exporters::lora {

/// Writes an F32 adapter GGUF with io::write_file_atomically (through write_gguf_file). Head counts
/// for the q/k permutation come from `base`.
/// adapter.lora.alpha = lora_alpha, or lora_alpha · sqrt(r) with use_rslora, since llama.cpp always
/// scales by alpha / r (§10). Errors name the file and the tensor (no GGUF name, bad shape).
void write_gguf_lora_adapter(const std::filesystem::path& path, const NamedTensors& lora,
                             const LoraAdapterConfig& config, const layers::LlamaConfig& base);

/// Reads an adapter GGUF into qforge names (any type the ggml codecs decode; lora_b q/k rows
/// un-permuted). config.r = lora_b ne0; config.lora_alpha = adapter.lora.alpha, except that alpha 0 or
/// a missing key means "scale = user scale" in llama.cpp, represented as lora_alpha = r (scaling 1);
/// use_rslora false. *_norm.weight tensors are ignored as llama.cpp does; other suffixes, token_embd
/// adapters and a wrong architecture/type are errors naming the file and the tensor or key.
LoraAdapter read_gguf_lora_adapter(const std::filesystem::path& path, const layers::LlamaConfig& base);

}  // namespace qforge::exporters::lora
