// tokenizer.json writer (tokenizer_json.h): the fields HF tokenizers serializes, in its order.
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "exporters/tokenizers/tokenizer_json.h"
#include "io/atomic_file.h"

namespace qforge::exporters::tokenizers {
namespace {

using ojson = nlohmann::ordered_json;
constexpr const char* kWordMarker = "\xE2\x96\x81";  // U+2581

ojson byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

ojson added_tokens(const BpeTokenizer& t) {
  ojson out = ojson::array();
  for (const AddedToken& a : t.added_tokens())
    out.push_back({{"id", a.id}, {"content", a.content}, {"single_word", false}, {"lstrip", a.lstrip},
                   {"rstrip", a.rstrip}, {"normalized", false}, {"special", a.special}});
  return out;
}

// model.vocab holds every token that is not an added token; a text repeated in the list keeps its
// last id (the id BpeTokenizer::find gives it), since JSON object keys are unique.
ojson model(const BpeTokenizer& t) {
  std::unordered_set<int32_t> added;
  for (const AddedToken& a : t.added_tokens()) added.insert(a.id);
  ojson vocab = ojson::object();
  for (size_t id = 0; id < t.size(); ++id) {
    const std::string& text = t.token(static_cast<int32_t>(id));
    if (text.empty() || added.count(static_cast<int32_t>(id)) || t.find(text) != static_cast<int32_t>(id)) continue;
    vocab[text] = id;
  }
  ojson merges = ojson::array();
  for (const auto& [left, right] : t.merges()) merges.push_back({t.token(left), t.token(right)});
  const BpeOptions& o = t.options();
  return {{"type", "BPE"}, {"dropout", nullptr},
          {"unk_token", o.unk ? ojson(t.token(*o.unk)) : ojson(nullptr)},
          {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
          {"fuse_unk", o.fuse_unk}, {"byte_fallback", o.byte_fallback}, {"ignore_merges", o.ignore_merges},
          {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
}

void add_byte_level_parts(const BpeOptions& o, ojson& out) {
  out["normalizer"] = o.nfc ? ojson{{"type", "NFC"}} : ojson(nullptr);
  if (o.pre == PreTokenizer::kGpt2) {
    out["pre_tokenizer"] = byte_level(true);
  } else {
    // One Split per regex of the pattern, in order (DeepSeek's sequences have several), then ByteLevel.
    ojson steps = ojson::array();
    for (const std::string& regex : pre_tokenizer_regexes(o.pre))
      steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}});
    steps.push_back(byte_level(false));
    out["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", std::move(steps)}};
  }
  out["post_processor"] = nullptr;
  out["decoder"] = byte_level(true);
}

// Llama 2's layout for Prepend::kAlways (normalizer Prepend + Replace), Metaspace otherwise.
void add_sentencepiece_parts(const BpeOptions& o, ojson& out) {
  using Prepend = BpeOptions::Prepend;
  if (o.prepend == Prepend::kAlways && !o.split_on_word_marker) {
    out["normalizer"] = {{"type", "Sequence"},
                         {"normalizers", {{{"type", "Prepend"}, {"prepend", kWordMarker}},
                                          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kWordMarker}}}}};
    out["pre_tokenizer"] = nullptr;
  } else {
    out["normalizer"] = nullptr;
    out["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", kWordMarker},
                            {"prepend_scheme", o.prepend == Prepend::kFirst ? "first" : o.prepend == Prepend::kAlways ? "always" : "never"},
                            {"split", o.split_on_word_marker}};
  }
  out["post_processor"] = nullptr;
  ojson steps = {{{"type", "Replace"}, {"pattern", {{"String", kWordMarker}}}, {"content", " "}},
                 {{"type", "ByteFallback"}}, {{"type", "Fuse"}}};
  if (o.prepend != Prepend::kNever) steps.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  out["decoder"] = {{"type", "Sequence"}, {"decoders", std::move(steps)}};
}

}  // namespace

std::string tokenizer_json_text(const BpeTokenizer& tokenizer) {
  ojson out = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
  out["added_tokens"] = added_tokens(tokenizer);
  if (tokenizer.options().flavour == BpeFlavour::kByteLevel) add_byte_level_parts(tokenizer.options(), out);
  else add_sentencepiece_parts(tokenizer.options(), out);
  out["model"] = model(tokenizer);
  return out.dump(1);
}

void write_tokenizer_json(const BpeTokenizer& tokenizer, const std::filesystem::path& path) {
  io::write_file_atomically(path, tokenizer_json_text(tokenizer));
}

}  // namespace qforge::exporters::tokenizers
