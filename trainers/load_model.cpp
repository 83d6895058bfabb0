// The model a command runs on (run_folder.h, "The model a command runs on"): a run folder, a llama.cpp
// GGUF file or a Hugging Face folder, with its tokenizer and an optional LoRA adapter merged.
#include "trainers/run_folder.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/spm_tokenizer.h"
#include "exporters/hf/hf_model_reader.h"
#include "exporters/lora/apply_lora.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "trainers/hf_text_tokenizer.h"

namespace qforge::trainers {

namespace fs = std::filesystem;
namespace gg = qforge::exporters::gguf;

namespace {

void check_one_source(const ModelSource& source) {
  if (!source.checkpoint.empty() + !source.gguf.empty() + !source.hf.empty() != 1)
    throw std::invalid_argument("give exactly one of --checkpoint DIR, --gguf FILE and --hf DIR");
}

void set_gguf_tokenizer(LoadedModel& out, const gg::GgufReader& reader, const std::string& path) {
  // tokenizer.ggml.model "gpt2": byte-level BPE (exporters/tokenizers); otherwise SentencePiece.
  if (exporters::tokenizers::gguf_tokenizer_model(reader.file()) == "gpt2") {
    auto bpe = std::make_shared<const exporters::tokenizers::BpeTokenizer>(
        exporters::tokenizers::bpe_tokenizer_from_gguf(reader));
    out.vocab_size = static_cast<int64_t>(bpe->size());
    out.encode = [bpe](std::string_view text) {
      const std::vector<int32_t> ids = bpe->encode(text, false);  // llama.cpp's parse_special = false
      return std::vector<int64_t>(ids.begin(), ids.end());
    };
    out.decode = [bpe](std::span<const int64_t> ids) { return bpe->decode(std::vector<int32_t>(ids.begin(), ids.end())); };
    return;
  }
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

// The run's tokenizer, shared by the encode/decode closures; a token-id run has none (ids only).
void set_run_tokenizer(LoadedModel& out, std::shared_ptr<const data::Tokenizer> tokenizer, const std::string& dir) {
  if (!tokenizer) {
    out.vocab_size = out.model ? out.model->config().vocab_size : 0;
    out.encode = [dir](std::string_view) -> std::vector<int64_t> {
      throw std::invalid_argument(dir + ": trained on token ids; it has no tokenizer for text (give token ids)");
    };
    return;
  }
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

// An HF folder's tokenizer.json (trainers/hf_text_tokenizer.h); without one, token ids only. Ids the
// model has no row for are outside the vocabulary either way.
void set_hf_tokenizer(LoadedModel& out, const std::string& dir, int64_t model_vocab) {
  const fs::path path = fs::path(dir) / "tokenizer.json";
  if (fs::is_regular_file(path)) {
    std::ifstream in(path, std::ios::binary);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    set_run_tokenizer(out, std::make_shared<const HfTextTokenizer>(text, path.string()), dir);
    out.vocab_size = std::min(out.vocab_size, model_vocab);
    return;
  }
  out.vocab_size = model_vocab;
  out.encode = [dir](std::string_view) -> std::vector<int64_t> {
    throw std::invalid_argument("--hf " + dir + ": the folder has no tokenizer.json; give token ids "
                                "(probs --tokens, generate --prompt-tokens)");
  };
  out.decode = nullptr;
}

LoadedModel load_base_model(const ModelSource& source) {
  LoadedModel out;
  if (!source.checkpoint.empty()) {
    InferenceModel restored = restore_inference_model(source.checkpoint);
    out.model = restored.model;
    set_run_tokenizer(out, std::move(restored.tokenizer), source.checkpoint);
    return out;
  }
  if (!source.hf.empty()) {
    out.model = exporters::hf::read_hf_model(source.hf).model;
    set_hf_tokenizer(out, source.hf, out.model->config().vocab_size);
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
    set_run_tokenizer(out, restore_inference_model(source.checkpoint).tokenizer, source.checkpoint);
    return out;
  }
  if (!source.hf.empty()) {
    set_hf_tokenizer(out, source.hf, exporters::hf::read_hf_config(std::filesystem::path(source.hf) / "config.json").llama.vocab_size);
    return out;
  }
  const gg::GgufReader reader{std::filesystem::path(source.gguf)};
  set_gguf_tokenizer(out, reader, source.gguf);
  return out;
}

}  // namespace qforge::trainers
