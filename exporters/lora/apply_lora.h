#pragma once
// Merging a LoRA adapter into a model's FP32 (dequantized) weights the way llama.cpp applies one at
// inference: W_eff = W + user_scale · scaling · B A (llama-graph.cpp build_lora_mm adds
// scale · B (A x) to W x; docs/gguf.md §10, docs/peft-lora.md §3).
#include <filesystem>

#include "exporters/lora/lora_adapter.h"
#include "layers/llama.h"
#include "layers/module.h"

namespace qforge::exporters::lora {

/// Adds user_scale · adapter.config.scaling() · B A to each adapted module's "<module>.weight" in
/// `model` (named_parameters). Errors (std::invalid_argument) name the tensor when the base weight is
/// missing or its shape [out, in] disagrees with B [out, r] / A [r, in].
void apply_lora(layers::Module& model, const LoraAdapter& adapter, double user_scale);

/// An adapter from a PEFT directory (load_peft_adapter) or a GGUF adapter file
/// (read_gguf_lora_adapter; `base` gives the head counts for the q/k permutation).
LoraAdapter load_lora_adapter(const std::filesystem::path& path, const layers::LlamaConfig& base);

}  // namespace qforge::exporters::lora
