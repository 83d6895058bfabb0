// GGUF "gpt2" vocabularies -> BpeTokenizer (gguf_bpe.h).
#include "exporters/tokenizers/gguf_bpe.h"

#include <stdexcept>
#include <vector>

#include "io/read_error.h"

namespace qforge::exporters::tokenizers {
namespace {

namespace gg = qforge::exporters::gguf;

// llama.h enum llama_token_type.
constexpr int32_t kNormal = 1;
constexpr int32_t kControl = 3;
constexpr int32_t kUserDefined = 4;
constexpr int32_t kUnused = 5;

// The file being read: errors in io/read_error.h's shape, "gguf vocabulary: FILE: key K at byte N: what", with
// the byte where key K's pair starts when a reader knows it (docs/reader-errors.md).
struct Where {
  const gg::GgufFile& file;
  const std::string& source;
  const gg::GgufReader* reader;
};

[[noreturn]] void fail_key(const Where& where, const std::string& key, const std::string& what) {
  const std::optional<uint64_t> at = where.reader ? where.reader->key_offset(key) : std::nullopt;
  if (at) throw std::invalid_argument(io::read_error("gguf vocabulary", where.source, "key " + key, *at, what));
  throw std::invalid_argument(io::read_error("gguf vocabulary", where.source, "key " + key, what));
}

const gg::Array* array_of(const Where& where, const std::string& key, bool required) {
  const gg::Value* value = where.file.find(key);
  if (value == nullptr) {
    if (required) fail_key(where, key, "missing");
    return nullptr;
  }
  const gg::Array* array = value->get_if<gg::Array>();
  if (array == nullptr)
    fail_key(where, key, "has type " + std::string(gg::value_type_name(value->type())) + ", expected an array");
  return array;
}

std::vector<std::string> strings_of(const Where& where, const std::string& key) {
  const gg::Array& array = *array_of(where, key, true);
  std::vector<std::string> out;
  out.reserve(array.elements.size());
  for (const gg::Value& v : array.elements) {
    const std::string* text = v.get_if<std::string>();
    if (text == nullptr)
      fail_key(where, key, "holds " + std::string(gg::value_type_name(v.type())) + " elements, expected string");
    out.push_back(*text);
  }
  return out;
}

std::string string_of(const gg::GgufFile& file, const std::string& key) {
  const gg::Value* value = file.find(key);
  const std::string* text = value == nullptr ? nullptr : value->get_if<std::string>();
  return text == nullptr ? "" : *text;
}

BpeTokenizer read_bpe(const Where& where);

}  // namespace

std::string gguf_tokenizer_model(const gg::GgufFile& file) { return string_of(file, "tokenizer.ggml.model"); }

BpeTokenizer bpe_tokenizer_from_gguf(const gg::GgufFile& file, const std::string& source) {
  return read_bpe({file, source, nullptr});
}

BpeTokenizer bpe_tokenizer_from_gguf(const gg::GgufReader& reader) {
  return read_bpe({reader.file(), reader.source(), &reader});
}

namespace {

BpeTokenizer read_bpe(const Where& where) {
  const gg::GgufFile& file = where.file;
  if (gguf_tokenizer_model(file) != "gpt2")
    fail_key(where, "tokenizer.ggml.model", "'" + io::printable(gguf_tokenizer_model(file)) + "', expected \"gpt2\" (byte-level BPE)");
  // llama-vocab.cpp picks the pre-tokenizer regexes (and ignore_merges) by this name; qforge implements some.
  const std::string pre_name = string_of(file, "tokenizer.ggml.pre");
  const std::optional<GgufPreTokenizerName> pre = pre_tokenizer_from_gguf_name(pre_name);
  if (!pre)
    fail_key(where, "tokenizer.ggml.pre", "'" + io::printable(pre_name) + "' is not a pre-tokenizer qforge implements (" +
             gguf_pre_tokenizer_name_list() + "; docs/gguf.md §14)");
  std::vector<std::string> tokens = strings_of(where, "tokenizer.ggml.tokens");
  std::vector<std::pair<std::string, std::string>> merges;
  const std::string merges_key = "tokenizer.ggml.merges";
  for (const std::string& merge : strings_of(where, merges_key)) {
    // llama.cpp splits at the first ' ' after position 0 (a token may itself start with ' ').
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos) fail_key(where, merges_key, "entry '" + io::printable(merge) + "' has no space");
    merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
  }
  std::vector<AddedToken> added;
  const std::string types_key = "tokenizer.ggml.token_type";
  if (const gg::Array* types = array_of(where, types_key, false)) {
    if (types->elements.size() != tokens.size())
      fail_key(where, types_key, "has " + std::to_string(types->elements.size()) + " entries for " +
                       std::to_string(tokens.size()) + " tokens");
    for (size_t id = 0; id < tokens.size(); ++id) {
      const int32_t* type = types->elements[id].get_if<int32_t>();
      if (type == nullptr) fail_key(where, types_key, "holds non-i32 elements");
      if ((*type == kControl || *type == kUserDefined) && !tokens[id].empty())
        added.push_back({static_cast<int32_t>(id), tokens[id], *type == kControl, false, false});
    }
  }
  BpeOptions options;
  options.flavour = BpeFlavour::kByteLevel;
  options.pre = pre->kind;
  options.ignore_merges = pre->ignore_merges;  // llama_vocab::impl::load: "llama-bpe", "tekken"
  try {
    return BpeTokenizer(std::move(tokens), merges, std::move(added), options);
  } catch (const std::invalid_argument& e) {
    fail_key(where, "tokenizer.ggml.merges", e.what());  // a merge naming no token, a repeated token
  }
}

}  // namespace

void add_gpt2_vocabulary(gg::GgufFile& file, const BpeTokenizer& tokenizer, uint64_t n_tokens, std::optional<int64_t> bos,
                         std::optional<int64_t> eos) {
  if (tokenizer.options().flavour != BpeFlavour::kByteLevel)
    throw std::invalid_argument("gguf export: the source's tokenizer is a tokenizer.json of SentencePiece-style BPE, which "
                                "a GGUF \"gpt2\" vocabulary (byte-level BPE, docs/gguf.md §14) cannot hold; use --format hf");
  if (n_tokens < tokenizer.size())
    throw std::invalid_argument("gguf export: " + std::to_string(n_tokens) + " GGUF tokens for a tokenizer of " +
                                std::to_string(tokenizer.size()));
  std::vector<std::string> tokens(n_tokens);
  std::vector<int32_t> types(n_tokens, kNormal);
  for (uint64_t id = 0; id < n_tokens; ++id) {
    const bool known = id < tokenizer.size() && !tokenizer.token(static_cast<int32_t>(id)).empty();
    tokens[id] = known ? tokenizer.token(static_cast<int32_t>(id)) : "[PAD" + std::to_string(id) + "]";
    if (!known) types[id] = kUnused;
  }
  std::optional<int64_t> first_special;
  for (const AddedToken& added : tokenizer.added_tokens()) {
    types[static_cast<size_t>(added.id)] = added.special ? kControl : kUserDefined;
    if (added.special && (!first_special || added.id < *first_special)) first_special = added.id;
  }
  std::vector<std::string> merges;
  merges.reserve(tokenizer.merges().size());
  for (const auto& [left, right] : tokenizer.merges()) merges.push_back(tokenizer.token(left) + " " + tokenizer.token(right));
  file.set("tokenizer.ggml.model", "gpt2");
  // The name llama.cpp reads back as this pattern with this ignore_merges, when there is one.
  file.set("tokenizer.ggml.pre", pre_tokenizer_gguf_name(tokenizer.options().pre, tokenizer.options().ignore_merges).name);
  file.set("tokenizer.ggml.tokens", gg::make_array(tokens));
  file.set("tokenizer.ggml.token_type", gg::make_array(types));
  file.set("tokenizer.ggml.merges", gg::make_array(merges));
  // llama_vocab::impl::load defaults both to 11 for gpt2 vocabularies: always write them.
  if (!bos) bos = first_special;
  if (!eos) eos = first_special;
  if (bos) file.set("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*bos));
  if (eos) file.set("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*eos));
  file.set("tokenizer.ggml.add_bos_token", false);
}

}  // namespace qforge::exporters::tokenizers
