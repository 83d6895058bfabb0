#pragma once
// Format-exact GGUF QAT presets: the QAT rules that give every weight of a Llama the ggml type a GGUF
// file type's mix assigns it (run_config.proto QuantizationConfig.preset). The types come from
// exporters/gguf/llama_type_mix.h, the mix the exporter itself uses, so the types trained with and the
// types written can never disagree (docs/gguf.md §7 for the mixes). The export side of these runs
// is exporters/gguf/llama_exporter.h.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fakequant/qat.h"
#include "layers/llama.h"

namespace qforge::trainers {

// One rule per quantizable layer of `model` (embed_tokens, every projection, lm_head) that no rule
// of `earlier` matches, with pattern = the layer's exact name and a weight spec with
// QuantizerSpec::ggml_type = the mix's type; F32 entries (1-D norms) get no rule. `preset` is a GGUF
// file type name (parse_llama_file_type); F32 quantizes nothing and is rejected, and so is a preset
// that gives a layer no earlier rule takes a type that encodes only with an importance matrix (IQ2_XXS,
// IQ2_XS, IQ1_S: in the IQ1_*, IQ2_XXS and IQ2_XS mixes). Errors name the preset. Call it on the model
// before quantizers are installed.
std::vector<fakequant::QuantRule> gguf_preset_rules(const layers::LlamaForCausalLM& model, const std::string& preset,
                                                    const std::vector<fakequant::QuantRule>& earlier = {});

// The ggml type id of every GGUF-typed weight quantizer of `model`, by the weight's parameter name
// ("model.layers.0.mlp.down_proj.weight").
std::map<std::string, uint32_t> trained_ggml_types(layers::Module& model);

}  // namespace qforge::trainers
