#pragma once
// llama.cpp GGUF (arch "llama" or "qwen2", gguf_architecture.h) -> LlamaForCausalLM: the inverse of
// llama_gguf_export.h. Config from the <arch>.* metadata (vocab_size = token_embd rows), q/k/v biases
// when blk.0.attn_q.bias is present, every tensor dequantized with the ggml codecs (any type of the block
// table), Q/K rows un-permuted back to HF's half-split rope for "llama", tied embeddings when
// output.weight is absent, fused blk.N.attn_qkv weights and biases split into q/k/v (docs/gguf.md §3, §5, §13).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "autograd/packed_weight.h"
#include "exporters/gguf/gguf_architecture.h"
#include "exporters/gguf/gguf_reader.h"
#include "layers/llama.h"

namespace qforge::exporters::gguf {

struct ImportedLlama {
  std::shared_ptr<layers::LlamaForCausalLM> model;
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens (empty when absent)
};

// Errors (std::invalid_argument / std::runtime_error) name the file, the key or tensor and its byte, in the
// shape of io/read_error.h: "gguf model: FILE: key qwen2.block_count at byte 812: missing".
ImportedLlama read_llama_gguf(const GgufReader& reader, const std::string& source);
ImportedLlama read_llama_gguf(const std::filesystem::path& path);

// general.architecture as a row of the architecture table; std::invalid_argument naming the key, its byte
// and the table's names when it is missing or not one qforge reads.
const GgufArchitecture& read_gguf_architecture(const GgufReader& reader, const std::string& source);

// One projection's weight ("model.layers.0.self_attn.q_proj.weight") as the file stores it, still in its
// ggml blocks (no re-quantization, no FP32 copy), with Q/K rows moved back to HF's half-split rope order
// (whole rows move, so the blocks move unchanged): a frozen QLoRA base that is exactly what llama.cpp
// runs. A file with a fused attn_qkv gives the projection's row range of its bytes (docs/gguf.md §3).
// `config` gives the head counts. std::invalid_argument naming `source` and the tensor when it
// is absent, not 2-D or shorter than the keys imply.
autograd::PackedWeightPtr read_llama_gguf_blocks(const GgufReader& reader, const std::string& hf_weight,
                                                 const layers::LlamaConfig& config, const std::string& source);

}  // namespace qforge::exporters::gguf
