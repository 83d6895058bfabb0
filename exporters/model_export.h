#pragma once
// What a run hands to an exporter (trainers/run_folder.h export_source): plain data, so exporters
// never depend on how a run is stored. The registry (exporters/registry.h) says which of the two an
// exporter needs.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autograd/packed_weight.h"
#include "exporters/lora/lora_adapter.h"
#include "fakequant/formats/ggml/block_rounding.h"
#include "fakequant/group_index_weight.h"
#include "fakequant/quantized_tensor.h"
#include "fakequant/quip_sharp_weight.h"
#include "fakequant/spqr_weight.h"
#include "layers/llama.h"

namespace qforge::exporters {

// A weight in GPTQ's act-order representation with dynamic groups (fakequant/group_index_weight.h) and
// the code of every element as its forward derives them.
struct GroupIndexExport {
  fakequant::GroupIndexState state;
  std::vector<int64_t> codes;  // [rows * cols], row-major
};

// A SpQR weight (ptq/spqr.h) as its quantizer holds it, the codes its forward derives and the latent
// weight [rows * cols] (which the method snapped to the forward's values).
struct SpqrExport {
  fakequant::SpqrState state;
  std::vector<int64_t> codes;
  std::vector<float> latent;
};

// A Linear's input quantizer: its scheme and, for a static one, its calibrated scales (a dynamic
// scheme, per token, has none).
struct InputQuantizerExport {
  fakequant::QuantizerSpec spec;
  std::vector<float> scales;
};

// A language model as a plain float Llama:
//   - the latent (float) weight of every weight trained with a GGUF block type; `ggml_types` says
//     which type, and encoding it with that type's codec reproduces the trained forward bit for bit;
//   - the fake-quantized values (as the eval-mode forward used them) of every weight trained with
//     another scheme (int4:g32, nf4, ...), so a float or GGUF file starts from the trained weights;
//   - LoRA runs: the adapters merged into the base (W + scale · B A);
//   - every other parameter as stored.
struct LlamaExport {
  std::shared_ptr<layers::LlamaForCausalLM> model;
  std::vector<std::string> vocabulary;         // token strings by output id
  // The run's tokenizer, for formats that store one (HF tokenizer.json, exporters/hf/hf_tokenizer_export.h):
  // "char", "byte", "hf" (then `tokenizer_json` is the tokenizer.json text it trained with) or "ids" (none).
  std::string tokenizer_kind;
  std::string tokenizer_json;
  // BOS / EOS ids a source states itself (a Hugging Face folder's config.json); unset: the exporters find
  // them by name in `vocabulary` (<s>, </s>).
  std::optional<int64_t> bos_token_id, eos_token_id;
  std::map<std::string, uint32_t> ggml_types;  // parameter name -> ggml type id it trained with
  // parameter name -> the importance its GGUF codec was weighted with in training (QuantizationConfig
  // .imatrix); the export encodes the weight with it, so the file still equals the trained forward.
  std::map<std::string, std::vector<float>> ggml_importance;
  std::string preset;                          // the run's quantization.preset ("" when none)
  std::vector<std::string> notes;              // one line per quantizer the file cannot express
  std::vector<std::string> gguf_notes;         // what only a GGUF file's vocabulary is concerned by
  // Weights a post-training method already encoded in a ggml type (GPTQ into ggml types,
  // ptq/gptq_ggml_method.h), by parameter name, rows in the parameter's order: written as they are
  // (their `model` weight holds the decoded values). Empty for a run as stored.
  std::map<std::string, fakequant::ggml::EncodedRows> encoded;
  // The codes behind the quantized weights, by parameter name, for the quantized Hugging Face layouts
  // (exporters/hf/hf_quant_export.h); `model` holds their dequantized values, bit for bit the same:
  //   - quantized: the weight of every fakequant::Quantizer with a non-GGUF scheme (QAT, RTN, GPTQ with
  //     static groups, AWQ after its folding), as fakequant::convert() gives it;
  //   - group_index: GPTQ act-order with dynamic groups;
  //   - packed_base: a LoRA run's frozen packed base weights (fakequant/packed/: NF4 / FP4, a Hugging Face
  //     folder's integer codes, GGUF blocks), before its adapters were merged into `model` (which then
  //     differs from them).
  std::map<std::string, fakequant::QuantizedTensor> quantized;
  std::map<std::string, GroupIndexExport> group_index;
  std::map<std::string, SpqrExport> spqr;  // SpQR (quantize --method spqr)
  // QuIP# (quantize --method quip_sharp[:fused]): each Linear's codes, signs and scale; a fused module's
  // parts each hold the whole fused state and their rows (fakequant/quip_sharp_weight.h).
  std::map<std::string, fakequant::QuipSharpState> quip_sharp;
  // The input quantizers of the quantized Linears, by their weight's name ("P.weight"): the layouts whose
  // config states activation quantization (bitsandbytes int8's threshold, compressed-tensors' input_activations)
  // read them; the model's forward does not (an exported folder is read with float activations).
  std::map<std::string, InputQuantizerExport> inputs;
  std::map<std::string, autograd::PackedWeightPtr> packed_base;
};

// The adapter a LoRA run trained (qforge = Hugging Face names, PEFT-style config) and the shape of its
// base (GGUF adapters permute q/k rows per head).
struct LoraAdapterExport {
  lora::LoraAdapter adapter;
  layers::LlamaConfig base_config;
};

// Which of the two an exporter reads.
enum class ExportInput { kModel, kLoraAdapter };

struct ExportSource {
  std::string name;  // the run's name (general.name of a GGUF)
  std::optional<LlamaExport> model;
  std::optional<LoraAdapterExport> adapter;
};

}  // namespace qforge::exporters
