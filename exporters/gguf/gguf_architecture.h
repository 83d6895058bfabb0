#pragma once
// The llama.cpp architectures (general.architecture) qforge's Llama layer reads and writes, one table
// (docs/gguf.md §2, §5, §13). Both are LlamaForCausalLM graphs in llama.cpp (src/models/llama.cpp,
// src/models/qwen2.cpp); they differ in
//   - the rope pair layout (llama_model_rope_type in src/llama-model.cpp): "llama" is LLAMA_ROPE_TYPE_NORM
//     (adjacent pairs, so convert_hf_to_gguf.py permutes the Q/K rows), "qwen2" LLAMA_ROPE_TYPE_NEOX
//     (half-split pairs as in Hugging Face: no permutation);
//   - the q/k/v biases: Qwen2 has them (blk.N.attn_q.bias ...), a plain Llama has none.
// Metadata keys are "<name>.<key>" (llama-arch.cpp LLM_KV_NAMES: "%s.context_length", ...).
#include <string>
#include <string_view>

#include "layers/llama_config.h"

namespace qforge::exporters::gguf {

struct GgufArchitecture {
  const char* name;         // general.architecture
  bool adjacent_rope;       // Q/K rows permuted to adjacent rope pairs (docs/gguf.md §5)
  bool qkv_bias;            // what qforge writes: q/k/v biases (and only those)
  const char* hf_architecture;  // the Hugging Face class the file corresponds to
  bool rope_freqs;          // llama.cpp's graph loads rope_freqs.weight, per-frequency rope divisors (docs/gguf.md §15)
};

// nullptr for a name the table does not hold.
const GgufArchitecture* find_gguf_architecture(std::string_view name);
// "llama, qwen2": for help texts and errors.
std::string gguf_architecture_names();
// The architecture a model is written as: qkv_bias -> qwen2, a plain Llama -> llama. std::invalid_argument
// for what neither expresses (o_proj or MLP biases, a head_dim override, a sliding window, llama3 or
// per-frequency rope scaling with q/k/v biases: docs/gguf.md §15).
const GgufArchitecture& gguf_architecture_for(const layers::LlamaConfig& config);
// The row whose q/k/v biases are `qkv_bias` (a LoRA adapter names its base's architecture: docs/gguf.md §10).
const GgufArchitecture& gguf_architecture_with_qkv_bias(bool qkv_bias);

}  // namespace qforge::exporters::gguf
