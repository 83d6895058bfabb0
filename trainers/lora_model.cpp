#include "trainers/lora_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/hf/hf_model_reader.h"
#include "fakequant/group_index_weight.h"
#include "fakequant/packed/pack_weight.h"
#include "fakequant/saved_weight_quantizers.h"
#include "layers/lora.h"
#include "layers/rope_frequencies.h"
#include "trainers/language_model_setup.h"
#include "trainers/run_folder.h"

namespace qforge::trainers {

namespace fs = std::filesystem;
namespace gg = qforge::exporters::gguf;

namespace {

const std::vector<std::string> kDefaultTargets = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                  "gate_proj", "up_proj", "down_proj"};

bool is_gguf_file(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}

// A Hugging Face model folder (config.json + safetensors) that is not also a run folder.
bool is_hf_base(const std::string& base) { return !is_run_folder(base) && exporters::hf::is_hf_folder(base); }

exporters::hf::HfConfig hf_base_config(const std::string& base) {
  return exporters::hf::read_hf_config(fs::path(base) / "config.json");
}

// A GGUF base keeps its blocks and a quantized HF folder its codes unless told otherwise.
std::string base_format(const config::LoraConfig& lora) {
  if (!lora.base_format().empty()) return lora.base_format();
  if (is_gguf_file(lora.base())) return "gguf";
  if (is_hf_base(lora.base()) && !hf_base_config(lora.base()).quantization_config.empty()) return "hf";
  return "nf4";
}

// lora.base_format "hf": the packed Linears of a quantized folder, as they are (docs/hf.md §12).
std::map<std::string, autograd::PackedWeightPtr> hf_packed_base(const std::string& base) {
  if (!is_hf_base(base))
    throw std::invalid_argument("lora.base_format: hf keeps a quantized Hugging Face folder's codes; " + base + " is not one");
  const exporters::hf::HfConfig config = hf_base_config(base);
  if (config.quantization_config.empty())
    throw std::invalid_argument("lora.base_format: hf keeps a quantized folder's codes; " + base + "/config.json has no "
                                "quantization_config (its weights are float: leave base_format empty for nf4)");
  return exporters::hf::read_hf_packed_weights(base, config);
}

void check_base_exists(const std::string& base) {
  if (!is_run_folder(base) && !is_hf_base(base)) {
    throw std::invalid_argument("lora.base: '" + base + "' is neither a .gguf file, a run folder holding " +
                                kCheckpointFile + " nor a Hugging Face model folder holding config.json");
  }
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
  check_base_exists(base);
  // An HF folder's vocabulary is its tokenizer.json, which the run's data use (trainers/hf_text_tokenizer.h).
  if (is_hf_base(base)) return {exporters::hf::read_hf_model(base).model, {}};
  exporters::LlamaExport restored = restore_language_model(base);
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
  // The frozen base rotates as its file says (docs/gguf.md §15); a run that rotates otherwise would train
  // adapters for another model.
  if (const double d = layers::rope_frequency_difference(base_config, run); d > layers::kRopeFactorsTolerance)
    throw std::invalid_argument("lora.base: " + base + " has rope frequencies " + std::to_string(d) +
                                " relative away from the run's model.llama's (rope_theta or rope scaling)");
}

// The text tokenizer a qforge GGUF base was trained with, read off its vocabulary (docs/gguf.md §4): a
// byte run's tokens start with the 256 byte tokens "<0x00>".."<0xFF>", a char run's with its characters,
// and both continue with "<unk>", "<s>", "</s>". Other vocabularies (a hub file's SentencePiece or BPE
// merges) are not one qforge's text tokenizers reproduce: the run must say how its data are tokenized.
// "byte" or "char" for a vocabulary a qforge byte or char run wrote, else nullopt.
std::optional<std::string> qforge_gguf_tokenizer(const std::vector<std::string>& tokens) {
  bool bytes = tokens.size() >= 256;
  for (size_t i = 0; bytes && i < 256; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", static_cast<unsigned>(i));
    bytes = tokens[i] == name;
  }
  if (bytes) return "byte";
  if (std::find(tokens.begin(), tokens.end(), "<unk>") != tokens.end()) return "char";
  return std::nullopt;
}

std::string gguf_base_tokenizer(const std::vector<std::string>& tokens, const std::string& base) {
  if (const std::optional<std::string> kind = qforge_gguf_tokenizer(tokens)) return *kind;
  throw std::invalid_argument("lora.base: " + base + "'s vocabulary (" + std::to_string(tokens.size()) +
                              " tokens) was not written by a qforge char or byte run; set data.text.tokenizer, or "
                              "tokenize the text with the file's own vocabulary (qforge tokenize --gguf) into "
                              "data.text.token_file");
}

// A text run on a base that brings its vocabulary tokenizes with it unless data.text.tokenizer says
// otherwise (issue 17): the base run's tokenizer, or the one a qforge GGUF base was written from.
void default_tokenizer_from_base(config::RunConfig& out, const std::string& kind) {
  if (!out.data().has_text() || !out.data().text().tokenizer().empty() || !out.data().text().token_file().empty()) return;
  if (!kind.empty()) out.mutable_data()->mutable_text()->set_tokenizer(kind);
}

}  // namespace

bool is_lora_run(const config::RunConfig& config) { return !config.lora().base().empty(); }

int64_t lora_rank(const config::LoraConfig& lora) { return lora.rank() > 0 ? lora.rank() : 8; }

double lora_alpha(const config::LoraConfig& lora) { return lora.alpha() > 0 ? lora.alpha() : 16.0; }

config::RunConfig with_base_model(const config::RunConfig& config) {
  if (!is_lora_run(config)) return config;
  config::RunConfig out = config;
  const std::string& base = config.lora().base();
  if (is_hf_base(base)) {  // the folder's architecture, recorded (LlamaConfig.hf); the run's context stays
    if (config.model().llama().hf().empty() && config.model().llama().hidden_size() == 0)
      out.mutable_model()->mutable_llama()->set_hf(base);
    return out;
  }
  if (config.model().has_llama()) return config;
  if (is_gguf_file(base)) {
    const gg::ImportedLlama imported = gg::read_llama_gguf(fs::path(base));
    if (out.data().has_text() && out.data().text().tokenizer().empty() && out.data().text().token_file().empty())
      default_tokenizer_from_base(out, gguf_base_tokenizer(imported.tokens, base));
    const layers::LlamaConfig c = imported.model->config();
    config::LlamaConfig* llama = out.mutable_model()->mutable_llama();
    // qforge's GGUF vocabulary: the tokenizer's tokens, then <unk>, <s>, </s> and the 256 byte tokens
    // (docs/gguf.md §4), which reserve_gguf_tokens gives the run too; check_same_shape names a mismatch.
    // Any other vocabulary (a hub file's, a gpt2 one: §14) is the file's token count as it stands.
    const bool qforge_vocabulary = qforge_gguf_tokenizer(imported.tokens).has_value();
    llama->set_reserve_gguf_tokens(qforge_vocabulary);
    if (!qforge_vocabulary) llama->set_vocab_size(static_cast<int32_t>(c.vocab_size));
    llama->set_qkv_bias(c.qkv_bias);  // Qwen2 (docs/gguf.md §13)
    llama->set_hidden_size(static_cast<int32_t>(c.hidden_size));
    llama->set_num_hidden_layers(static_cast<int32_t>(c.num_hidden_layers));
    llama->set_num_attention_heads(static_cast<int32_t>(c.num_attention_heads));
    llama->set_num_key_value_heads(static_cast<int32_t>(c.num_key_value_heads));
    llama->set_intermediate_size(static_cast<int32_t>(c.intermediate_size));
    llama->set_max_position_embeddings(static_cast<int32_t>(c.max_position_embeddings));
    llama->set_rope_theta(c.rope_theta);
    llama->set_rms_norm_eps(c.rms_norm_eps);
    llama->set_tie_word_embeddings(c.tie_word_embeddings);
    set_rope_scaling(*llama, c.rope_scaling);  // rope_freqs.weight or linear keys (docs/gguf.md §15)
    llama->set_gradient_checkpointing(config.model().llama().gradient_checkpointing());
    return out;
  }
  check_base_exists(base);
  const config::RunConfig base_run = open_run_folder(base).config;
  *out.mutable_model() = base_run.model();
  if (base_run.data().has_text()) default_tokenizer_from_base(out, base_run.data().text().tokenizer());
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
    const std::map<std::string, autograd::PackedWeightPtr> hf_packed =
        format == "hf" ? hf_packed_base(base) : std::map<std::string, autograd::PackedWeightPtr>{};
    auto factory = [&](const std::string& path, int64_t in, int64_t out, uint64_t) -> std::shared_ptr<layers::Linear> {
      if (path == "lm_head") return std::make_shared<layers::Linear>(in, out, false, 0);
      const bool bias = state.count(path + ".bias") > 0;  // Qwen2's q/k/v biases stay float, loaded below
      if (reader)
        return std::make_shared<layers::Linear>(gg::read_llama_gguf_blocks(*reader, path + ".weight", model_config, base), bias);
      if (const auto packed = hf_packed.find(path + ".weight"); packed != hf_packed.end())
        return std::make_shared<layers::Linear>(packed->second, bias);
      const autograd::Tensor& w = state.at(path + ".weight");
      // A Linear the quantized folder keeps float stays so (f32), as the folder runs it.
      return std::make_shared<layers::Linear>(fakequant::pack_weight(format == "hf" ? "f32" : format, w.data(), out, in), bias);
    };
    model = std::make_shared<layers::LlamaForCausalLM>(model_config, factory);
    std::map<std::string, autograd::Tensor> rest;
    for (const auto& [name, p] : model->named_parameters()) rest[name] = state.at(name);
    model->load_state_dict(rest);
  }
  model->freeze();
  layers::LoraOptions options;
  options.rank = lora_rank(lora);
  options.alpha = lora_alpha(lora);
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
    // Post-training methods may leave a weight in a representation the rules do not describe (SpQR, QuIP#,
    // GPTQ act-order with dynamic groups).
    fakequant::install_saved_weight_quantizers(model, state.buffers);
    model.load_state_dict(state);
    return;
  }
  for (const auto& [name, param] : trainable_parameters(model)) {
    if (!state.count(name)) throw std::invalid_argument(source + ": the LoRA checkpoint has no adapter tensor " + name);
  }
  model.load_state_dict(state, /*strict=*/false);
}

void merge_lora_adapters(layers::Module& model) {
  for (const auto& [path, module] : model.named_modules()) {
    if (auto linear = std::dynamic_pointer_cast<layers::Linear>(module); linear && linear->has_lora()) linear->merge_lora();
  }
}

}  // namespace qforge::trainers
