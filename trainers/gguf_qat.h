#pragma once
// Format-exact GGUF QAT presets: the QAT rules that give every weight of a Llama the ggml type a GGUF
// file type's mix assigns it (run_config.proto QuantizationConfig.preset). The types come from
// exporters/gguf/llama_type_mix.h, the mix the exporter itself uses, so the types trained with and the
// types written can never disagree (docs/gguf.md §7 for the mixes). The export side of these runs
// is exporters/gguf/llama_exporter.h.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fakequant/qat.h"
#include "layers/llama.h"

namespace qforge::trainers {

// One rule per quantizable layer of `model` (embed_tokens, every projection, lm_head) that no rule
// of `earlier` matches, with pattern = the layer's exact name and a weight spec with
// QuantizerSpec::ggml_type = the mix's type; F32 entries (1-D norms) get no rule. `preset` is a GGUF
// file type name (parse_llama_file_type); F32 quantizes nothing and is rejected, and so is, without
// has_imatrix, a preset that gives a layer no earlier rule takes a type that encodes only with an
// importance matrix (IQ2_XXS, IQ2_XS, IQ1_S: in the IQ1_*, IQ2_XXS and IQ2_XS mixes). Errors name the
// preset. Call it on the model before quantizers are installed. has_imatrix: the run has
// quantization.imatrix; the mix llama.cpp picks when given one (it differs for Q4_0, Q5_0, IQ4_NL).
std::vector<fakequant::QuantRule> gguf_preset_rules(const layers::LlamaForCausalLM& model, const std::string& preset,
                                                    const std::vector<fakequant::QuantRule>& earlier = {},
                                                    bool has_imatrix = false);

// The ggml type id of every GGUF-typed weight quantizer of `model`, by the weight's parameter name
// ("model.layers.0.mlp.down_proj.weight").
std::map<std::string, uint32_t> trained_ggml_types(layers::Module& model);

// Importance-weighted format-exact QAT (run_config.proto QuantizationConfig.imatrix). A run keeps its
// own copy of the imatrix file, "imatrix" + the source's extension in the run folder, so resuming,
// evaluating and exporting it read the importance it started with, whatever happens to the source.
std::filesystem::path run_imatrix_path(const std::filesystem::path& run_dir, const std::string& imatrix);
// Copies the config's imatrix into the run folder (fresh start); std::invalid_argument naming the file
// when it cannot be read as an imatrix.
void keep_run_imatrix(const std::filesystem::path& run_dir, const std::string& imatrix);
// Gives every GGUF-typed weight quantizer of `model` whose weight has an entry in the run folder's
// imatrix copy (llama.cpp's importance: Σx² / count per input channel, by GGUF tensor name) that
// importance, as llama-quantize --imatrix weights the same tensor; nothing when `imatrix` is empty.
// Returns how many quantizers got one.
int apply_run_importance(layers::Module& model, const std::string& imatrix, const std::filesystem::path& run_dir);
// The same from an imatrix file itself: a fresh data-parallel run's ranks read the source file, since only
// rank 0 writes the run folder's copy.
int apply_importance_file(layers::Module& model, const std::filesystem::path& path);

// The importance of every GGUF-typed weight quantizer that has one, by the weight's parameter name.
std::map<std::string, std::vector<float>> trained_importance(layers::Module& model);

}  // namespace qforge::trainers
