// Restoring run folders (run_folder.h); the model a command runs on is load_model.cpp.
#include "trainers/run_folder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>

#include "autograd/variable.h"
#include "exporters/hf/hf_model_reader.h"
#include "fakequant/group_index_weight.h"
#include "fakequant/qat.h"
#include "fakequant/quantized_tensor.h"
#include "fakequant/quip_sharp_weight.h"
#include "fakequant/spqr_weight.h"
#include "layers/linear.h"
#include "trainers/gguf_qat.h"
#include "trainers/language_model_setup.h"
#include "trainers/lora_model.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {

namespace ag = qforge::autograd;
namespace fs = std::filesystem;

std::string RunFolder::checkpoint_path() const { return (dir / kCheckpointFile).string(); }

const std::string& RunFolder::metadata(const std::string& key) const {
  return metadata_value(checkpoint.metadata, key, dir.string());
}

RunFolder open_run_folder(const fs::path& dir, CheckpointParts parts) {
  RunFolder run{dir, load_checkpoint(dir, parts), config::RunConfig()};
  run.config = parse_run_config(run.checkpoint.config_text, run.checkpoint_path());
  return run;
}

bool is_run_folder(const fs::path& path) { return fs::is_regular_file(path / kCheckpointFile); }

LanguageModelRun language_model_run(const RunFolder& run, const std::string& needs, bool ids_allowed) {
  if (!run.config.model().has_llama()) throw std::invalid_argument(run.dir.string() + ": not a language-model run");
  const std::string& kind = run.metadata("tokenizer");
  const config::LlamaConfig& llama = run.config.model().llama();
  if (kind == "ids") {
    // The vocabulary of a token-id run is the data's largest id + 1 unless the config fixes it
    // (vocab_size, or model.llama.hf's config.json): only then is the model rebuilt without the data.
    if (!ids_allowed || (llama.hf().empty() && llama.vocab_size() == 0))
      throw std::invalid_argument(run.dir.string() + ": trained on token ids; it has no tokenizer for " + needs);
    LanguageModelRun out;
    out.model_config = llama_config(llama, 0, run.config.trainer().seed());
    return out;
  }
  LanguageModelRun out;
  out.tokenizer = restore_tokenizer(kind, run.metadata("tokenizer.vocabulary"));
  out.model_config = llama_config(llama, output_vocabulary(llama, kind, *out.tokenizer), run.config.trainer().seed());
  out.output_tokens = output_token_strings(llama, kind, *out.tokenizer);
  return out;
}

InferenceModel restore_inference_model(const fs::path& dir) {
  const RunFolder run = open_run_folder(dir);
  LanguageModelRun lm = language_model_run(run, "generation", /*ids_allowed=*/true);
  InferenceModel out;
  // A LoRA run: its base with the adapters applied, unmerged, as they trained.
  out.model = is_lora_run(run.config) ? build_lora_model(run.config, lm.model_config, lm.output_tokens)
                                      : std::make_shared<layers::LlamaForCausalLM>(lm.model_config);
  apply_quantization(*out.model, run.config);
  apply_run_importance(*out.model, run.config.quantization().imatrix(), dir);
  out.model->eval();
  load_run_weights(*out.model, run.config, run.checkpoint, dir.string());
  out.tokenizer = std::move(lm.tokenizer);
  return out;
}

namespace {

// A LoRA run merged: W + scale * B A in FP32 for every adapted projection (a packed base dequantized first).
exporters::LlamaExport merged_lora_weights(const RunFolder& run, const LanguageModelRun& lm) {
  std::shared_ptr<layers::LlamaForCausalLM> lora = build_lora_model(run.config, lm.model_config, lm.output_tokens);
  load_run_weights(*lora, run.config, run.checkpoint, run.config.lora().base());
  exporters::LlamaExport out;
  for (const auto& [name, module] : lora->named_modules()) {  // the packed base, before the merge unpacks it
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (linear && linear->is_packed()) out.packed_base[name + ".weight"] = linear->packed_weight();
  }
  merge_lora_adapters(*lora);
  out.model = std::make_shared<layers::LlamaForCausalLM>(lm.model_config);
  out.model->load_state_dict(lora->state_dict());
  out.notes.push_back("LoRA adapters merged into the base (" + run.config.lora().base() + ")");
  return out;
}

// The codes of what the quantizer's forward computed from `latent` (its parameters refreshed by that
// forward, as fakequant/qat.h convert does), kept only when they dequantize to `forward` bit for bit; a
// scheme whose forward is not its storage grid (e.g. SEQ's stretched levels) has none for exporters.
std::optional<fakequant::QuantizedTensor> codes_of(const ag::Tensor& latent, const fakequant::Quantizer& quantizer,
                                                   const ag::Tensor& forward) {
  try {
    fakequant::QuantizedTensor q = fakequant::quantize_tensor(latent, quantizer.current_params(), quantizer.spec());
    const ag::Tensor back = fakequant::dequantize_tensor(q);
    if (std::equal(back.data(), back.data() + back.numel(), forward.data(), forward.data() + forward.numel(),
                   [](float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }))
      return q;
  } catch (const std::invalid_argument&) {
  }
  return std::nullopt;
}

// The trained model with its quantizers, reduced to a plain Llama as exporters::LlamaExport says.
exporters::LlamaExport quantized_weights(const RunFolder& run, const LanguageModelRun& lm) {
  layers::LlamaForCausalLM trained(lm.model_config);
  apply_quantization(trained, run.config);
  apply_run_importance(trained, run.config.quantization().imatrix(), run.dir);
  load_run_weights(trained, run.config, run.checkpoint, run.checkpoint_path());
  trained.eval();
  std::map<std::string, ag::Tensor> weights;
  for (const auto& [name, param] : trained.named_parameters()) {
    if (!is_quantizer_parameter(name)) weights[name] = param.data();
  }
  exporters::LlamaExport out;
  out.ggml_types = trained_ggml_types(trained);
  out.ggml_importance = trained_importance(trained);
  out.preset = run.config.quantization().preset();
  ag::NoGradGuard no_grad;
  for (const auto& [name, quantizer] : fakequant::quantizers_of(trained)) {
    if (quantizer->role() == fakequant::QuantizerRole::kActivation) {
      if (name.ends_with(".input_quantizer"))
        out.inputs[name.substr(0, name.rfind('.')) + ".weight"] = {quantizer->spec(), quantizer->current_params().scales};
      out.notes.push_back(name + " (" + quantizer->spec().describe() + ") is not exported: neither GGUF nor an unquantized HF folder stores activation quantization");
      continue;
    }
    if (quantizer->spec().is_ggml_block()) continue;  // latent weight + ggml_types
    const std::string weight = name.substr(0, name.rfind("_quantizer"));  // "<layer>.weight"
    const ag::Tensor latent = weights.at(weight);
    weights[weight] = quantizer->forward(ag::Variable(latent)).data();
    if (auto codes = codes_of(latent, *quantizer, weights[weight])) out.quantized.emplace(weight, std::move(*codes));
    out.notes.push_back(weight + " (" + quantizer->spec().describe() + ") is exported as its fake-quantized values");
  }
  // Weights in a post-training method's own representation (SpQR, QuIP#, GPTQ act-order
  // with dynamic groups: fakequant/saved_weight_quantizers.h)
  // leave as what their quantizer's forward computes; the file holds no codes.
  for (const auto& [name, module] : trained.named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear || !linear->weight_quantizer() || std::dynamic_pointer_cast<fakequant::Quantizer>(linear->weight_quantizer())) continue;
    const ag::Tensor latent = weights[name + ".weight"];
    weights[name + ".weight"] = linear->weight_quantizer()->forward(linear->weight()).data();
    if (auto s = std::dynamic_pointer_cast<fakequant::SpqrWeightQuantizer>(linear->weight_quantizer()))
      out.spqr[name + ".weight"] = {s->state(), s->codes(latent), std::vector<float>(latent.data(), latent.data() + latent.numel())};
    if (auto q = std::dynamic_pointer_cast<fakequant::QuipSharpWeightQuantizer>(linear->weight_quantizer()))
      out.quip_sharp[name + ".weight"] = q->state();
    if (auto g = std::dynamic_pointer_cast<fakequant::GroupIndexWeightQuantizer>(linear->weight_quantizer()))
      out.group_index[name + ".weight"] = {g->state(), g->codes(linear->weight().data())};
    out.notes.push_back(name + ".weight (a post-training method's codes) is exported as its decoded values");
  }
  out.model = std::make_shared<layers::LlamaForCausalLM>(lm.model_config);
  out.model->load_state_dict(weights);
  return out;
}

}  // namespace

exporters::LlamaExport restore_language_model(const fs::path& dir) {
  const RunFolder run = open_run_folder(dir);
  const LanguageModelRun lm = language_model_run(run, "export", /*ids_allowed=*/true);
  exporters::LlamaExport out = is_lora_run(run.config) ? merged_lora_weights(run, lm) : quantized_weights(run, lm);
  out.vocabulary = lm.output_tokens;
  out.tokenizer_kind = run.metadata("tokenizer");
  if (out.tokenizer_kind == "hf") out.tokenizer_json = run.metadata("tokenizer.vocabulary");
  // A char/byte vocabulary gets appended tokens in a GGUF (docs/gguf.md §4); a tokenizer.json's does not (§14).
  if (out.tokenizer_kind != "hf" && !run.config.model().llama().reserve_gguf_tokens())
    out.gguf_notes.push_back("the model was trained without model.llama.reserve_gguf_tokens: the control and byte tokens the "
                        "GGUF vocabulary needs get zero output rows (logit 0) and take probability mass in llama.cpp");
  return out;
}

exporters::LoraAdapterExport restore_lora_adapter(const fs::path& dir) {
  namespace el = exporters::lora;
  const RunFolder run = open_run_folder(dir);
  if (!is_lora_run(run.config)) throw std::invalid_argument(dir.string() + ": not a LoRA run (no lora.base in its config)");
  const config::LoraConfig& lora = run.config.lora();
  exporters::LoraAdapterExport out;
  for (const auto& [name, tensor] : run.checkpoint.model) out.adapter.tensors[name] = tensor;
  el::LoraAdapterConfig& c = out.adapter.config;
  c.r = lora_rank(lora);
  c.lora_alpha = lora_alpha(lora);
  c.lora_dropout = std::round(static_cast<double>(lora.dropout()) * 1e6) / 1e6;  // the float field, as written
  c.use_rslora = lora.rslora();
  c.base_model_name_or_path = lora.base();
  for (const auto& pair : el::lora_pairs(out.adapter.tensors, c.r, dir.string())) {
    const std::string suffix = el::module_suffix(pair.module);
    if (std::find(c.target_modules.begin(), c.target_modules.end(), suffix) == c.target_modules.end())
      c.target_modules.push_back(suffix);
  }
  const config::LlamaConfig& llama = run.config.model().llama();
  out.base_config = llama_config(llama, std::max<int64_t>(1, llama.vocab_size()), run.config.trainer().seed());
  return out;
}

exporters::ExportSource export_source(const fs::path& dir, exporters::ExportInput input) {
  exporters::ExportSource source;
  fs::path name = dir;
  if (!name.has_filename()) name = name.parent_path();  // "runs/x/" -> "x"
  source.name = name.filename().string();
  if (input == exporters::ExportInput::kModel) source.model = restore_language_model(dir);
  if (input == exporters::ExportInput::kLoraAdapter) source.adapter = restore_lora_adapter(dir);
  return source;
}

void load_float_weights(layers::Module& model, const std::filesystem::path& run_dir) {
  load_float_weights(model, open_run_folder(run_dir));
}

void load_float_weights(layers::Module& model, const RunFolder& run) {
  const fs::path& run_dir = run.dir;
  std::map<std::string, autograd::Tensor> saved(run.checkpoint.model.begin(), run.checkpoint.model.end());
  std::map<std::string, autograd::Tensor> wanted;
  for (const auto& [name, param] : model.named_parameters()) {
    if (is_quantizer_parameter(name)) continue;
    auto it = saved.find(name);
    if (it == saved.end()) {
      throw std::invalid_argument("quantization.init_from: " + (run_dir / kCheckpointFile).string() +
                                  " has no parameter '" + name + "' (was it written by the same model config?)");
    }
    wanted.insert(*it);
  }
  model.load_state_dict(wanted, /*strict=*/false);  // shapes are still checked
}

// A Hugging Face folder's tensors into the model's float parameters (its quantizers keep their init).
void load_hf_init_weights(layers::Module& model, const fs::path& dir) {
  const exporters::hf::HfConfig config = exporters::hf::read_hf_config(dir / "config.json");
  std::map<std::string, autograd::Tensor*> targets;
  for (auto& [name, param] : model.named_parameters())
    if (!is_quantizer_parameter(name)) targets[name] = &param.mutable_data();
  try {
    exporters::hf::read_hf_weights(dir, config, targets);
  } catch (const std::exception& e) {
    throw std::invalid_argument("quantization.init_from: " + std::string(e.what()) +
                                " (model.llama.hf names the folder whose architecture the run takes)");
  }
}

config::RunConfig with_init_model(const config::RunConfig& config) {
  const std::string& init_from = config.quantization().init_from();
  if (init_from.empty() || !exporters::hf::is_hf_folder(init_from) || is_run_folder(init_from)) return config;
  const config::LlamaConfig& llama = config.model().llama();
  if (!llama.hf().empty() || llama.hidden_size() != 0) return config;  // the config names an architecture itself
  config::RunConfig out = config;
  out.mutable_model()->mutable_llama()->set_hf(init_from);
  return out;
}

void load_init_weights(layers::Module& model, const fs::path& run_dir) {
  if (!is_run_folder(run_dir) && exporters::hf::is_hf_folder(run_dir)) return load_hf_init_weights(model, run_dir);
  const RunFolder run = open_run_folder(run_dir);
  const config::QuantizationConfig& q = run.config.quantization();
  if (q.rules_size() == 0 && q.preset().empty()) return load_float_weights(model, run);
  layers::StateDict state;
  state.insert(run.checkpoint.model.begin(), run.checkpoint.model.end());
  state.buffers.insert(run.checkpoint.buffers.begin(), run.checkpoint.buffers.end());
  try {
    model.load_state_dict(state, /*strict=*/true);
  } catch (const std::exception& e) {
    throw std::invalid_argument("quantization.init_from: " + run.checkpoint_path() + " is a quantized run whose state "
                                "does not fit this run's quantizers (same scheme, estimator aside?): " + e.what());
  }
}

}  // namespace qforge::trainers
