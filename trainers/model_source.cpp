// The model a command runs on (run_folder.h): a run folder or a GGUF file with its own tokenizer,
// optionally with a LoRA adapter.
#include <filesystem>
#include <stdexcept>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/spm_tokenizer.h"
#include "exporters/lora/apply_lora.h"
#include "trainers/run_folder.h"

namespace qforge::trainers {

namespace gg = qforge::exporters::gguf;

namespace {

void check_one_source(const ModelSource& source) {
  if (source.checkpoint.empty() == source.gguf.empty())
    throw std::invalid_argument("give exactly one of --checkpoint DIR and --gguf FILE");
}

void set_gguf_tokenizer(LoadedModel& out, const gg::GgufReader& reader, const std::string& path) {
  auto tokenizer = std::make_shared<const gg::SpmTokenizer>(gg::SpmTokenizer::from_gguf(reader.file(), path));
  out.vocab_size = static_cast<int64_t>(tokenizer->size());
  out.encode = [tokenizer](std::string_view text) {
    const std::vector<int32_t> ids = tokenizer->encode(text);
    return std::vector<int64_t>(ids.begin(), ids.end());
  };
  out.decode = [tokenizer](std::span<const int64_t> ids) {
    return tokenizer->decode(std::vector<int32_t>(ids.begin(), ids.end()));
  };
}

// The run's tokenizer, shared by the encode/decode closures.
void set_run_tokenizer(LoadedModel& out, std::shared_ptr<const data::Tokenizer> tokenizer) {
  out.vocab_size = tokenizer->vocab_size();
  out.encode = [tokenizer](std::string_view text) {
    const data::TokenIds ids = tokenizer->encode(text);
    return std::vector<int64_t>(ids.begin(), ids.end());
  };
  out.decode = [tokenizer](std::span<const int64_t> ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= tokenizer->vocab_size())
        data::throw_id_outside_vocabulary("decode", static_cast<uint32_t>(ids[i]), i, tokenizer->vocab_size());
    }
    return tokenizer->decode(data::TokenIds(ids.begin(), ids.end()));
  };
}

LoadedModel load_base_model(const ModelSource& source) {
  LoadedModel out;
  if (!source.checkpoint.empty()) {
    InferenceModel restored = restore_inference_model(source.checkpoint);
    out.model = restored.model;
    set_run_tokenizer(out, std::move(restored.tokenizer));
    return out;
  }
  const gg::GgufReader reader{std::filesystem::path(source.gguf)};
  out.model = gg::read_llama_gguf(reader, source.gguf).model;
  out.model->eval();
  set_gguf_tokenizer(out, reader, source.gguf);
  if (out.vocab_size != out.model->config().vocab_size)
    throw std::invalid_argument(source.gguf + ": tokenizer.ggml.tokens has " + std::to_string(out.vocab_size) +
                                " tokens but token_embd.weight has " + std::to_string(out.model->config().vocab_size) +
                                " rows");
  return out;
}

void apply_lora_option(const ModelSource& source, layers::LlamaForCausalLM& model) {
  if (source.lora.empty()) return;
  try {
    const exporters::lora::LoraAdapter adapter = exporters::lora::load_lora_adapter(source.lora, model.config());
    exporters::lora::apply_lora(model, adapter, source.lora_scale);
  } catch (const std::exception& e) {
    throw std::invalid_argument("--lora " + source.lora + ": " + e.what());
  }
}

}  // namespace

LoadedModel load_model(const ModelSource& source) {
  check_one_source(source);
  LoadedModel out = load_base_model(source);
  apply_lora_option(source, *out.model);
  return out;
}

LoadedModel load_tokenizer(const ModelSource& source) {
  check_one_source(source);
  LoadedModel out;
  if (!source.checkpoint.empty()) {
    set_run_tokenizer(out, restore_inference_model(source.checkpoint).tokenizer);
    return out;
  }
  const gg::GgufReader reader{std::filesystem::path(source.gguf)};
  set_gguf_tokenizer(out, reader, source.gguf);
  return out;
}

}  // namespace qforge::trainers
