#pragma once
// A Hugging Face model folder -> layers::LlamaForCausalLM: config.json (hf_config.h) and the weights in
// model.safetensors or in the shards model.safetensors.index.json names ({"weight_map": {tensor: file}}).
// Every shard is memory-mapped and every header checked (exporters/safetensors) before the model is
// built; the tensor names and shapes must then be exactly those config.json implies (HF's parameter
// names, which qforge's modules use too), and each tensor is decoded from the map straight into its
// parameter, whose pages are then released: peak memory is the FP32 model plus one tensor's pages.
// Errors (std::runtime_error) name the file, the tensor and the field.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/packed_weight.h"
#include "exporters/hf/hf_config.h"
#include "layers/llama.h"

namespace qforge::exporters::hf {

/// One tensor a config implies: HF name and shape.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

/// The tensors of a LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM checkpoint for `config`
/// (lm_head.weight only when not tied), in model order.
std::vector<ExpectedTensor> expected_tensors(const layers::LlamaConfig& config);

struct HfModel {
  HfConfig config;
  std::shared_ptr<layers::LlamaForCausalLM> model;  ///< eval mode
};

/// Reads the folder `dir` (see the file comment).
HfModel read_hf_model(const std::filesystem::path& dir);

/// True when `path` is a folder holding config.json: what qforge takes as a Hugging Face model folder
/// wherever a model source may also be a run folder (checkpoint.bin) or a .gguf file.
bool is_hf_folder(const std::filesystem::path& path);

/// The checks of read_hf_model, then each tensor decoded into targets[its name] (shapes checked): how
/// a model built elsewhere (a training task's, with quantizers) is filled from `dir` without a second
/// copy. Every tensor of the files must have a target (a tied lm_head.weight excepted, checked equal to
/// the embedding) and every target a tensor.
void read_hf_weights(const std::filesystem::path& dir, const HfConfig& config,
                     const std::map<std::string, autograd::Tensor*>& targets);

/// The packed Linears of a quantized folder (config.json's quantization_config, docs/hf.md §11) in their own
/// codes, never re-quantized: GPTQ, AWQ and compressed-tensors as fakequant::PackedGroupIndexWeight,
/// bitsandbytes NF4 / FP4 as fakequant::Packed4BitWeight; by weight name ("P.weight"). Empty for an
/// unquantized folder. The folder is checked as read_hf_weights checks it; what the QLoRA base of
/// `qlora --base DIR` keeps (trainers/lora_model.h).
std::map<std::string, autograd::PackedWeightPtr> read_hf_packed_weights(const std::filesystem::path& dir,
                                                                       const HfConfig& config);

}  // namespace qforge::exporters::hf
