#pragma once
// `qforge export --format hf`: a run's model as an unquantized Hugging Face model folder that
// transformers' LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM.from_pretrained loads unchanged
// and exporters/hf/hf_model_reader.h reads back (docs/hf.md §8):
//   config.json             the architecture (hf_config.h's keys, written back), torch_dtype, bos/eos ids
//                           when the vocabulary has <s> / </s>;
//   generation_config.json  transformers' GenerationConfig.from_model_config: the same bos/eos ids;
//   model.safetensors       or, over --max-shard-size, model-0000i-of-0000n.safetensors with
//                           model.safetensors.index.json {"metadata": {"total_size"}, "weight_map"}.
// The weights are what the run's forward uses (exporters/model_export.h): a fake-quantized run's
// dequantized values, with a note; with options.quant, its quantized Linears' codes in that layout and
// config.json's quantization_config (hf_quant_export.h, docs/hf.md §11).
#include <cstdint>
#include <filesystem>
#include <string>

#include "exporters/registry.h"

namespace qforge::exporters::hf {

/// "5GB" -> 5e9 (huggingface_hub's parse_size_to_int: KB, MB, GB, TB are powers of 10; KiB, MiB, GiB
/// powers of 2, as transformers' older convert_file_size_to_int took them); a bare number is bytes.
/// std::invalid_argument naming the text otherwise.
uint64_t parse_shard_size(const std::string& text);

/// Writes the folder `out` (created if missing) for `source.model`; options.dtype is f32 (default),
/// f16 or bf16, options.max_shard_size a parse_shard_size text (default "5GB", transformers'
/// save_pretrained default). Returns the "wrote ..." line.
std::string export_hf(const ExportSource& source, const ExportOptions& options, const std::filesystem::path& out);

}  // namespace qforge::exporters::hf
