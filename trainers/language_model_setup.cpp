// The text data and vocabulary of a language-model run: which part of the corpus it reads, the
// tokenizer it saved, the Llama config its model section describes and the token strings by output id.
#include "trainers/language_model_setup.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "data/byte_tokenizer.h"
#include "data/char_tokenizer.h"
#include "exporters/gguf/llama_vocabulary.h"
#include "exporters/hf/hf_config.h"
#include "trainers/hf_text_tokenizer.h"

namespace qforge::trainers {

namespace {

// Byte offset of the first UTF-8 character starting at or after `offset`.
size_t character_boundary(const std::string& text, size_t offset) {
  while (offset < text.size() && (static_cast<unsigned char>(text[offset]) & 0xC0) == 0x80) ++offset;
  return offset;
}

}  // namespace

std::string corpus_part(const std::string& corpus, const config::TextData& text) {
  const float begin = text.corpus_begin(), end = text.corpus_end() > 0 ? text.corpus_end() : 1.0f;
  if (begin < 0 || end > 1 || begin >= end) {
    throw std::invalid_argument("data.text: corpus_begin " + std::to_string(begin) + " and corpus_end " +
                                std::to_string(end) + " must satisfy 0 <= begin < end <= 1");
  }
  if (begin == 0 && end == 1) return corpus;
  const size_t first = character_boundary(corpus, static_cast<size_t>(begin * static_cast<double>(corpus.size())));
  const size_t last = character_boundary(corpus, static_cast<size_t>(end * static_cast<double>(corpus.size())));
  return corpus.substr(first, last - first);
}

namespace {

// model.llama.hf: the folder's config.json with the run's context (run_config.proto LlamaConfig.hf).
layers::LlamaConfig hf_llama_config(const config::LlamaConfig& llama, int64_t tokenizer_vocab, uint64_t seed) {
  const std::pair<const char*, bool> shape_fields[] = {
      {"vocab_size", llama.vocab_size() != 0}, {"hidden_size", llama.hidden_size() != 0},
      {"num_hidden_layers", llama.num_hidden_layers() != 0}, {"num_attention_heads", llama.num_attention_heads() != 0},
      {"num_key_value_heads", llama.num_key_value_heads() != 0}, {"intermediate_size", llama.intermediate_size() != 0},
      {"rope_theta", llama.rope_theta() != 0}, {"rms_norm_eps", llama.rms_norm_eps() != 0},
      {"tie_word_embeddings", llama.tie_word_embeddings()}, {"reserve_gguf_tokens", llama.reserve_gguf_tokens()},
      {"qkv_bias", llama.qkv_bias()}, {"rope_scaling", !llama.rope_scaling().empty()}};
  for (const auto& [field, set] : shape_fields)
    if (set) throw std::invalid_argument(std::string("model.llama.") + field + ": set by model.llama.hf's config.json (" + llama.hf() + "); leave it out");
  layers::LlamaConfig c = exporters::hf::read_hf_config(std::filesystem::path(llama.hf()) / "config.json").llama;
  const int64_t context = llama.max_position_embeddings();
  if (context <= 0 || context > c.max_position_embeddings)
    throw std::invalid_argument("model.llama.max_position_embeddings: the training context, required with model.llama.hf, "
                                "between 1 and the folder's " + std::to_string(c.max_position_embeddings) + " (got " +
                                std::to_string(context) + ")");
  c.max_position_embeddings = context;  // positions are computed on the fly: a shorter limit changes no value
  if (c.vocab_size < tokenizer_vocab)
    throw std::invalid_argument("model.llama.hf: " + llama.hf() + "/config.json vocab_size " + std::to_string(c.vocab_size) +
                                " is smaller than the data's " + std::to_string(tokenizer_vocab) + " token ids");
  c.gradient_checkpointing = llama.gradient_checkpointing();
  c.seed = seed;
  c.validate();
  return c;
}

}  // namespace

layers::RopeScaling rope_scaling_of(const config::LlamaConfig& llama) {
  layers::RopeScaling r;
  const std::string& type = llama.rope_scaling();
  if (type.empty()) return r;
  if (type == "linear") {
    r.type = layers::RopeScaling::Type::kLinear;
    r.factor = llama.rope_scaling_factor();
  } else if (type == "factors") {
    r.type = layers::RopeScaling::Type::kFactors;
    r.freq_factors.assign(llama.rope_freq_factors().begin(), llama.rope_freq_factors().end());
  } else {
    throw std::invalid_argument("model.llama.rope_scaling: '" + type + "' is not linear or factors");
  }
  return r;
}

void set_rope_scaling(config::LlamaConfig& llama, const layers::RopeScaling& r) {
  llama.clear_rope_scaling();
  llama.clear_rope_scaling_factor();
  llama.clear_rope_freq_factors();
  switch (r.type) {
    case layers::RopeScaling::Type::kNone: return;
    case layers::RopeScaling::Type::kLinear:
      llama.set_rope_scaling("linear");
      llama.set_rope_scaling_factor(r.factor);
      return;
    case layers::RopeScaling::Type::kFactors:
      llama.set_rope_scaling("factors");
      for (float f : r.freq_factors) llama.add_rope_freq_factors(f);
      return;
    case layers::RopeScaling::Type::kLlama3:  // a config.json's: recorded as model.llama.hf
      throw std::invalid_argument("model.llama.rope_scaling: llama3 is recorded by model.llama.hf, not by fields");
  }
}

layers::LlamaConfig llama_config(const config::LlamaConfig& llama, int64_t tokenizer_vocab, uint64_t seed) {
  if (!llama.hf().empty()) return hf_llama_config(llama, tokenizer_vocab, seed);
  layers::LlamaConfig c;
  c.vocab_size = llama.vocab_size() > 0 ? llama.vocab_size() : tokenizer_vocab;
  if (c.vocab_size < tokenizer_vocab) {
    throw std::invalid_argument("model.llama.vocab_size " + std::to_string(c.vocab_size) +
                                " is smaller than the tokenizer's " + std::to_string(tokenizer_vocab));
  }
  c.hidden_size = llama.hidden_size();
  c.num_hidden_layers = llama.num_hidden_layers();
  c.num_attention_heads = llama.num_attention_heads();
  c.num_key_value_heads = llama.num_key_value_heads() > 0 ? llama.num_key_value_heads() : llama.num_attention_heads();
  c.intermediate_size = llama.intermediate_size();
  c.max_position_embeddings = llama.max_position_embeddings();
  c.rope_theta = llama.rope_theta() > 0 ? llama.rope_theta() : 10000.0f;
  c.rms_norm_eps = llama.rms_norm_eps() > 0 ? llama.rms_norm_eps() : 1e-5f;
  c.tie_word_embeddings = llama.tie_word_embeddings();
  c.qkv_bias = llama.qkv_bias();
  c.rope_scaling = rope_scaling_of(llama);
  c.gradient_checkpointing = llama.gradient_checkpointing();
  c.seed = seed;
  c.validate();
  return c;
}

std::unique_ptr<data::Tokenizer> restore_tokenizer(const std::string& kind, const std::string& vocabulary) {
  if (kind == "byte") return std::make_unique<data::ByteTokenizer>();
  if (kind == "char") return std::make_unique<data::CharTokenizer>(data::CharTokenizer::from_vocabulary(vocabulary));
  if (kind == "hf") return std::make_unique<HfTextTokenizer>(vocabulary, "the run's tokenizer.json");
  throw std::invalid_argument("data.text.tokenizer: '" + kind + "' is not char, byte or hf");
}

std::vector<std::string> token_strings(const std::string& kind, const data::Tokenizer& tokenizer) {
  std::vector<std::string> out;
  for (int64_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (const auto* hf = dynamic_cast<const HfTextTokenizer*>(&tokenizer)) {
      out.push_back(hf->bpe().token(static_cast<int32_t>(id)));  // the file's token text
    } else if (kind == "byte") {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(id));
      out.emplace_back(buf);
    } else {
      out.push_back(tokenizer.decode({static_cast<uint32_t>(id)}));
    }
  }
  return out;
}

std::vector<std::string> output_token_strings(const config::LlamaConfig& llama, const std::string& kind,
                                              const data::Tokenizer& tokenizer) {
  std::vector<std::string> tokens = token_strings(kind, tokenizer);
  return llama.reserve_gguf_tokens() ? exporters::gguf::llama_gguf_tokens(tokens) : tokens;
}

int64_t output_vocabulary(const config::LlamaConfig& llama, const std::string& kind, const data::Tokenizer& tokenizer) {
  if (!llama.reserve_gguf_tokens()) return tokenizer.vocab_size();
  return static_cast<int64_t>(output_token_strings(llama, kind, tokenizer).size());
}

}  // namespace qforge::trainers
