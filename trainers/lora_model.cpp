#include "trainers/lora_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/packed/pack_weight.h"
#include "fakequant/packed/packed_ggml.h"
#include "layers/lora.h"
#include "trainers/language_model_task.h"
#include "trainers/run.h"

namespace qforge::trainers {

namespace fs = std::filesystem;
namespace gg = qforge::exporters::gguf;

namespace {

const std::vector<std::string> kDefaultTargets = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                  "gate_proj", "up_proj", "down_proj"};

bool is_gguf_file(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

std::string base_format(const config::LoraConfig& lora) {
  if (!lora.base_format().empty()) return lora.base_format();
  return is_gguf_file(lora.base()) ? "gguf" : "nf4";  // a GGUF base keeps its blocks unless told otherwise
}

// The float weights and token strings of the base, whatever it is stored as.
struct FloatBase {
  std::shared_ptr<layers::LlamaForCausalLM> model;
  std::vector<std::string> tokens;  // GGUF: tokenizer.ggml.tokens; run: output token strings
};

FloatBase read_float_base(const std::string& base) {
  if (is_gguf_file(base)) {
    gg::ImportedLlama imported = gg::read_llama_gguf(fs::path(base));
    return {imported.model, imported.tokens};
  }
  if (!fs::exists(fs::path(base) / kCheckpointFile)) {
    throw std::invalid_argument("lora.base: '" + base + "' is neither a .gguf file nor a run folder holding " +
                                kCheckpointFile);
  }
  LanguageModelExport restored = restore_language_model(base);
  return {restored.model, restored.vocabulary};
}

void check_same_tokens(const std::vector<std::string>& base_tokens, const std::vector<std::string>& expected,
                       const std::string& base) {
  if (base_tokens.empty()) return;  // a GGUF without a vocabulary: nothing to compare
  const size_t n = std::min(base_tokens.size(), expected.size());
  for (size_t i = 0; i < n; ++i) {
    if (base_tokens[i] != expected[i]) {
      throw std::invalid_argument("lora.base: " + base + " token " + std::to_string(i) + " is '" + base_tokens[i] +
                                  "' but this run's tokenizer has '" + expected[i] +
                                  "' (the fine-tuning data must use the base's vocabulary)");
    }
  }
}

// The GGUF's own blocks of one projection, rows in qforge's (HF half-split rope) order.
autograd::PackedWeightPtr gguf_blocks(const gg::GgufReader& reader, const std::string& hf_weight,
                                      const layers::LlamaConfig& config, const std::string& base) {
  const std::string name = gg::gguf_tensor_name(hf_weight).value();
  const gg::TensorInfo* info = reader.file().find_tensor(name);
  if (!info || info->dims.size() != 2) throw std::invalid_argument("lora.base: " + base + " has no 2-D tensor " + name);
  const auto& type = fakequant::ggml::block_type(static_cast<int>(info->type));
  const int64_t cols = static_cast<int64_t>(info->dims[0]), rows = static_cast<int64_t>(info->dims[1]);
  const int64_t row_bytes = fakequant::ggml::row_bytes(type, cols);
  const std::span<const std::byte> data = reader.tensor_data(name);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  // Q and K rows were permuted for llama.cpp's adjacent-pair rope (gguf.md §5): whole rows move, so
  // the blocks move unchanged. The row map comes from un-permuting the row indices themselves.
  const bool is_q = hf_weight.find("q_proj") != std::string::npos, is_k = hf_weight.find("k_proj") != std::string::npos;
  std::vector<float> source_row(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) source_row[r] = static_cast<float>(r);
  if (is_q || is_k) {
    std::vector<float> index(source_row);
    gg::unpermute_rope_rows(index.data(), source_row.data(), rows, 1,
                            is_q ? config.num_attention_heads : config.num_key_value_heads);
  }
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(bytes.data() + r * row_bytes, data.data() + static_cast<int64_t>(source_row[r]) * row_bytes,
                static_cast<size_t>(row_bytes));
  }
  return fakequant::wrap_ggml_weight(type, std::move(bytes), rows, cols);
}

void check_same_shape(const layers::LlamaConfig& base_config, const layers::LlamaConfig& run, const std::string& base) {
  const std::pair<const char*, std::pair<int64_t, int64_t>> fields[] = {
      {"vocab_size", {base_config.vocab_size, run.vocab_size}},
      {"hidden_size", {base_config.hidden_size, run.hidden_size}},
      {"num_hidden_layers", {base_config.num_hidden_layers, run.num_hidden_layers}},
      {"num_attention_heads", {base_config.num_attention_heads, run.num_attention_heads}},
      {"num_key_value_heads", {base_config.num_key_value_heads, run.num_key_value_heads}},
      {"intermediate_size", {base_config.intermediate_size, run.intermediate_size}},
      {"tie_word_embeddings", {base_config.tie_word_embeddings, run.tie_word_embeddings}}};
  for (const auto& [field, values] : fields) {
    if (values.first != values.second) {
      throw std::invalid_argument("lora.base: " + base + " has " + field + " " + std::to_string(values.first) +
                                  " but the run's model.llama has " + std::to_string(values.second));
    }
  }
}

}  // namespace

bool is_lora_run(const config::RunConfig& config) { return !config.lora().base().empty(); }

config::RunConfig with_base_model(const config::RunConfig& config) {
  if (!is_lora_run(config) || config.model().has_llama()) return config;
  config::RunConfig out = config;
  const std::string& base = config.lora().base();
  if (is_gguf_file(base)) {
    const layers::LlamaConfig c = gg::read_llama_gguf(fs::path(base)).model->config();
    config::LlamaConfig* llama = out.mutable_model()->mutable_llama();
    // qforge's GGUF vocabulary: the tokenizer's tokens, then <unk>, <s>, </s> and the 256 byte tokens
    // (gguf.md §4), which reserve_gguf_tokens gives the run too; check_same_shape names a mismatch.
    llama->set_reserve_gguf_tokens(true);
    llama->set_hidden_size(static_cast<int32_t>(c.hidden_size));
    llama->set_num_hidden_layers(static_cast<int32_t>(c.num_hidden_layers));
    llama->set_num_attention_heads(static_cast<int32_t>(c.num_attention_heads));
    llama->set_num_key_value_heads(static_cast<int32_t>(c.num_key_value_heads));
    llama->set_intermediate_size(static_cast<int32_t>(c.intermediate_size));
    llama->set_max_position_embeddings(static_cast<int32_t>(c.max_position_embeddings));
    llama->set_rope_theta(c.rope_theta);
    llama->set_rms_norm_eps(c.rms_norm_eps);
    llama->set_tie_word_embeddings(c.tie_word_embeddings);
    llama->set_gradient_checkpointing(config.model().llama().gradient_checkpointing());
    return out;
  }
  if (!fs::exists(fs::path(base) / kCheckpointFile)) {
    throw std::invalid_argument("lora.base: '" + base + "' is neither a .gguf file nor a run folder holding " +
                                kCheckpointFile);
  }
  const Checkpoint checkpoint = load_checkpoint(base);
  const config::RunConfig base_config = parse_run_config(checkpoint.config_text, (fs::path(base) / kCheckpointFile).string());
  *out.mutable_model() = base_config.model();
  out.mutable_model()->mutable_llama()->set_gradient_checkpointing(config.model().llama().gradient_checkpointing());
  return out;
}

std::shared_ptr<layers::LlamaForCausalLM> build_lora_model(const config::RunConfig& config,
                                                           const layers::LlamaConfig& model_config,
                                                           const std::vector<std::string>& output_tokens) {
  const config::LoraConfig& lora = config.lora();
  const std::string& base = lora.base();
  const std::string format = base_format(lora);
  if (config.quantization().rules_size() > 0 || !config.quantization().preset().empty()) {
    throw std::invalid_argument("lora: a LoRA run trains adapters on a frozen base; remove the quantization section "
                                "(lora.base_format says how the base is held)");
  }
  FloatBase float_base = read_float_base(base);
  check_same_tokens(float_base.tokens, output_tokens, base);
  check_same_shape(float_base.model->config(), model_config, base);
  std::map<std::string, autograd::Tensor> state = float_base.model->state_dict();
  std::shared_ptr<layers::LlamaForCausalLM> model;
  if (format == "f32") {
    model = float_base.model;
  } else {
    std::unique_ptr<gg::GgufReader> reader;
    if (format == "gguf") {
      if (!is_gguf_file(base)) throw std::invalid_argument("lora.base_format: gguf keeps a GGUF base's blocks; " + base + " is a run folder");
      reader = std::make_unique<gg::GgufReader>(fs::path(base));
    }
    auto factory = [&](const std::string& path, int64_t in, int64_t out, uint64_t) -> std::shared_ptr<layers::Linear> {
      if (path == "lm_head") return std::make_shared<layers::Linear>(in, out, false, 0);
      if (reader) return std::make_shared<layers::Linear>(gguf_blocks(*reader, path + ".weight", model_config, base));
      const autograd::Tensor& w = state.at(path + ".weight");
      return std::make_shared<layers::Linear>(fakequant::pack_weight(format, w.data(), out, in));
    };
    model = std::make_shared<layers::LlamaForCausalLM>(model_config, factory);
    std::map<std::string, autograd::Tensor> rest;
    for (const auto& [name, p] : model->named_parameters()) rest[name] = state.at(name);
    model->load_state_dict(rest);
  }
  model->freeze();
  layers::LoraOptions options;
  options.rank = lora.rank() > 0 ? lora.rank() : 8;
  options.alpha = lora.alpha() > 0 ? lora.alpha() : 16.0;
  options.dropout = lora.dropout();
  options.rslora = lora.rslora();
  options.seed = lora.seed() != 0 ? lora.seed() : config.trainer().seed();
  const std::vector<std::string> targets =
      lora.targets().empty() ? kDefaultTargets : std::vector<std::string>(lora.targets().begin(), lora.targets().end());
  layers::apply_lora(*model, targets, options);
  return model;
}

std::vector<std::pair<std::string, autograd::Variable>> trainable_parameters(const layers::Module& model) {
  std::vector<std::pair<std::string, autograd::Variable>> out;
  for (const auto& named : model.named_parameters())
    if (named.second.requires_grad()) out.push_back(named);
  return out;
}

void load_run_weights(layers::Module& model, const config::RunConfig& config, const Checkpoint& checkpoint,
                      const std::string& source) {
  layers::StateDict state;
  state.insert(checkpoint.model.begin(), checkpoint.model.end());
  if (!is_lora_run(config)) {
    state.buffers.insert(checkpoint.buffers.begin(), checkpoint.buffers.end());
    model.load_state_dict(state);
    return;
  }
  for (const auto& [name, param] : trainable_parameters(model)) {
    if (!state.count(name)) throw std::invalid_argument(source + ": the LoRA checkpoint has no adapter tensor " + name);
  }
  model.load_state_dict(state, /*strict=*/false);
}

TrainedLoraAdapter restore_lora_adapter(const fs::path& dir) {
  const Checkpoint checkpoint = load_checkpoint(dir);
  const config::RunConfig config = parse_run_config(checkpoint.config_text, (dir / kCheckpointFile).string());
  if (!is_lora_run(config)) throw std::invalid_argument(dir.string() + ": not a LoRA run (no lora.base in its config)");
  const config::LoraConfig& lora = config.lora();
  TrainedLoraAdapter out;
  for (const auto& [name, tensor] : checkpoint.model) out.adapter.tensors[name] = tensor;
  exporters::lora::LoraAdapterConfig& c = out.adapter.config;
  c.r = lora.rank() > 0 ? lora.rank() : 8;
  c.lora_alpha = lora.alpha() > 0 ? lora.alpha() : 16.0;
  c.lora_dropout = std::round(static_cast<double>(lora.dropout()) * 1e6) / 1e6;  // the float field, as written
  c.use_rslora = lora.rslora();
  c.base_model_name_or_path = lora.base();
  for (const auto& pair : exporters::lora::lora_pairs(out.adapter.tensors, c.r, dir.string())) {
    const std::string suffix = exporters::lora::module_suffix(pair.module);
    if (std::find(c.target_modules.begin(), c.target_modules.end(), suffix) == c.target_modules.end())
      c.target_modules.push_back(suffix);
  }
  const config::LlamaConfig& llama = config.model().llama();
  out.base_config = llama_config(llama, std::max<int64_t>(1, llama.vocab_size()), config.trainer().seed());
  return out;
}

void merge_lora_adapters(layers::Module& model) {
  for (const auto& [path, module] : model.named_modules()) {
    if (auto linear = std::dynamic_pointer_cast<layers::Linear>(module); linear && linear->has_lora()) linear->merge_lora();
  }
}

}  // namespace qforge::trainers
