#pragma once
// The model of a LoRA / QLoRA run (run_config.proto LoraConfig): the frozen base — a qforge run folder
// or a GGUF file — with every decoder projection held packed in lora.base_format (NF4 by default; a
// GGUF base may keep its own blocks), embeddings, norms and lm_head float and frozen, and trainable
// low-rank adapters on lora.targets (Hu et al. 2021; Dettmers et al. 2023 §3). A run-folder base is
// restored through trainers/run_folder.h, which restores LoRA runs through this file: the documented
// LoRA-base recursion.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "layers/llama.h"
#include "trainers/checkpoint.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

// True when the config fine-tunes adapters on a frozen base (lora.base is set).
bool is_lora_run(const config::RunConfig& config);
// lora.rank and lora.alpha with their defaults filled in (8 and 16; run_config.proto LoraConfig).
int64_t lora_rank(const config::LoraConfig& lora);
double lora_alpha(const config::LoraConfig& lora);

// `config` with model.llama taken from the base when the LoRA config names none: the base run's model
// section, or a GGUF file's llama.* metadata (vocab_size = its token count). Other configs unchanged.
config::RunConfig with_base_model(const config::RunConfig& config);

// Builds the frozen, packed base for `model_config` and adds the adapters. `output_tokens` are the
// task's token strings by output id; the base must use the same ids (checked, naming the first
// difference). Errors name the base path, the tensor or the option.
std::shared_ptr<layers::LlamaForCausalLM> build_lora_model(const config::RunConfig& config,
                                                           const layers::LlamaConfig& model_config,
                                                           const std::vector<std::string>& output_tokens);

// The parameters a LoRA run trains and checkpoints (those with requires_grad), in model order.
std::vector<std::pair<std::string, autograd::Variable>> trainable_parameters(const layers::Module& model);

// Loads a checkpoint's model state: every parameter and buffer for plain runs; for LoRA runs only the
// adapters (the base is rebuilt from lora.base), each of which must be present. Errors name `source`.
void load_run_weights(layers::Module& model, const config::RunConfig& config, const Checkpoint& checkpoint,
                      const std::string& source);

// Merges every adapter into its projection (layers::Linear::merge_lora): afterwards the model holds
// plain FP32 Linears named as a Llama without LoRA.
void merge_lora_adapters(layers::Module& model);

}  // namespace qforge::trainers
