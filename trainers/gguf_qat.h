#pragma once
// Format-exact GGUF QAT presets: the QAT rules that give every weight of a Llama the ggml type a GGUF
// file type's mix assigns it (run_config.proto QuantizationConfig.preset). The types come from
// exporters/gguf llama_mix_types, the function the exporter itself uses, so the types trained with
// and the types written can never disagree (docs/gguf.md §7 for the Q4_K_M mix).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exporters/gguf/llama_gguf_export.h"
#include "fakequant/qat.h"
#include "layers/llama.h"
#include "trainers/run.h"

namespace qforge::trainers {

// One rule per quantizable layer of `model` (embed_tokens, every projection, lm_head) that no rule
// of `earlier` matches, with pattern = the layer's exact name and a weight spec with
// QuantizerSpec::ggml_type = the mix's type; F32 entries (1-D norms) get no rule. `preset` is a GGUF
// file type name (parse_llama_file_type); F32 quantizes nothing and is rejected. Errors name the
// preset. Call it on the model before quantizers are installed.
std::vector<fakequant::QuantRule> gguf_preset_rules(const layers::LlamaForCausalLM& model, const std::string& preset,
                                                    const std::vector<fakequant::QuantRule>& earlier = {});

// The ggml type id of every GGUF-typed weight quantizer of `model`, by the weight's parameter name
// ("model.layers.0.mlp.down_proj.weight").
std::map<std::string, uint32_t> trained_ggml_types(layers::Module& model);

// Export options for a restored run (restore_language_model): file type `file_type` (empty: the run's
// preset, F32 when it has none) for the tensors that did not train with a GGUF block type, and
// tensor_types (by GGUF name) forcing every one that did to its trained type, so the file
// dequantizes to the trained forward's weights bit for bit.
exporters::gguf::LlamaExportOptions gguf_export_options(const LanguageModelExport& run, const std::string& file_type,
                                                        const std::string& name);

}  // namespace qforge::trainers
