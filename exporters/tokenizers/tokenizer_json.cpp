// tokenizer.json reader and writer (tokenizer_json.h). Field names follow the `tokenizers` library's
// serde serialization (tokenizers/src/tokenizer/serialization.rs, models/bpe/serialization.rs).
#include "exporters/tokenizers/tokenizer_json.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/read_error.h"

namespace qforge::exporters::tokenizers {
namespace {

using json = nlohmann::json;
constexpr std::string_view kWordMarker = "\xE2\x96\x81";  // U+2581

// "tokenizer: FILE: KEY.PATH: what" (io/read_error.h; nlohmann keeps no byte positions of values).
[[noreturn]] void fail(const std::string& source, const std::string& field, const std::string& what) {
  throw std::invalid_argument(io::read_error("tokenizer", source, field, what));
}

std::string type_of(const json& j, const std::string& source, const std::string& field) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) fail(source, field, "is not an object with a \"type\"");
  return j["type"].get<std::string>();
}

template <class T>
T value_or(const json& j, const char* key, T fallback) {
  return j.contains(key) && !j[key].is_null() ? j[key].get<T>() : fallback;
}

struct ModelPart {
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, std::string>> merges;
  BpeOptions options;
  std::string unk_token;
};

ModelPart read_model(const json& model, size_t id_limit, const std::string& source) {
  if (const std::string type = type_of(model, source, "model"); type != "BPE")
    fail(source, "model.type", type + " is not supported (BPE only)");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!value_or<std::string>(model, key, "").empty()) fail(source, std::string("model.") + key, "is not supported");
  if (value_or<double>(model, "dropout", 0.0) != 0.0) fail(source, "model.dropout", "BPE dropout is not deterministic");
  ModelPart part;
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail(source, "model.vocab", "missing or not an object");
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || static_cast<size_t>(id.get<int64_t>()) >= id_limit)
      fail(source, "model.vocab[\"" + text + "\"]", "id " + id.dump() + " is not an integer in [0, " + std::to_string(id_limit) + ")");
    const size_t i = id.get<size_t>();
    if (i >= part.tokens.size()) part.tokens.resize(i + 1);
    part.tokens[i] = text;
  }
  if (!model.contains("merges") || !model["merges"].is_array()) fail(source, "model.merges", "missing or not an array");
  for (const json& m : model["merges"]) {
    // Two spellings: "left right" (before tokenizers 0.20) and ["left", "right"].
    if (m.is_string()) {
      const std::string text = m.get<std::string>();
      const size_t space = text.find(' ', 1);
      if (space == std::string::npos) fail(source, "model.merges", "entry '" + text + "' has no space");
      part.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      part.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      fail(source, "model.merges", "entry " + m.dump() + " is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  part.options.byte_fallback = value_or<bool>(model, "byte_fallback", false);
  part.options.ignore_merges = value_or<bool>(model, "ignore_merges", false);
  part.options.fuse_unk = value_or<bool>(model, "fuse_unk", false);
  part.unk_token = value_or<std::string>(model, "unk_token", "");
  return part;
}

std::vector<AddedToken> read_added(const json& j, size_t id_limit, std::vector<std::string>& tokens, const std::string& source) {
  std::vector<AddedToken> added;
  if (!j.contains("added_tokens") || j["added_tokens"].is_null()) return added;
  for (const json& a : j["added_tokens"]) {
    const std::string field = "added_tokens[" + std::to_string(added.size()) + "]";
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") || !a["content"].is_string())
      fail(source, field, "needs an integer id and a string content");
    const int64_t id = a["id"].get<int64_t>();
    if (id < 0 || static_cast<size_t>(id) >= id_limit) fail(source, field + ".id", std::to_string(id) + " is out of range");
    AddedToken token{static_cast<int32_t>(id), a["content"].get<std::string>(), value_or<bool>(a, "special", false),
                     value_or<bool>(a, "lstrip", false), value_or<bool>(a, "rstrip", false)};
    if (value_or<bool>(a, "single_word", false)) fail(source, field + ".single_word", "true is not supported");
    if (static_cast<size_t>(id) >= tokens.size()) tokens.resize(id + 1);
    tokens[id] = token.content;
    added.push_back(std::move(token));
  }
  return added;
}

// normalizer: null, NFC, or SentencePiece's Sequence[Prepend("▁"), Replace(" ", "▁")].
void read_normalizer(const json& j, BpeOptions& options, bool& sentencepiece, const std::string& source) {
  if (!j.contains("normalizer") || j["normalizer"].is_null()) return;
  const json& n = j["normalizer"];
  const std::string type = type_of(n, source, "normalizer");
  if (type == "NFC") {
    options.nfc = true;
    return;
  }
  // An empty Sequence changes nothing (HF and tokenizers.js apply its zero steps).
  if (type == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array() && n["normalizers"].empty()) return;
  const bool spm = type == "Sequence" && n.contains("normalizers") && n["normalizers"].size() == 2 &&
                   n["normalizers"][0].value("type", "") == "Prepend" && n["normalizers"][0].value("prepend", "") == kWordMarker &&
                   n["normalizers"][1].value("type", "") == "Replace" && n["normalizers"][1].value("content", "") == kWordMarker &&
                   n["normalizers"][1].contains("pattern") && n["normalizers"][1]["pattern"].value("String", "") == " ";
  if (!spm) fail(source, "normalizer", n.dump().substr(0, 200) + " is not supported (null, NFC, or Prepend+Replace of U+2581)");
  sentencepiece = true;
  options.prepend = BpeOptions::Prepend::kAlways;
}

void read_byte_level(const json& p, bool regex_expected, BpeOptions& options, const std::string& source) {
  if (value_or<bool>(p, "add_prefix_space", false)) fail(source, "pre_tokenizer.add_prefix_space", "true is not supported");
  const bool use_regex = value_or<bool>(p, "use_regex", true);
  if (use_regex == regex_expected) fail(source, "pre_tokenizer.use_regex", regex_expected ? "must be false after a Split" : "false with no Split");
  options.flavour = BpeFlavour::kByteLevel;
}

// Sequence[Split(Regex, Isolated)..., ByteLevel]: the Split patterns name the pre-tokenizer (one for Llama 3 /
// Qwen2 / Tekken, five or six for DeepSeek's sequences; pre_tokenizer.h).
PreTokenizer read_split_sequence(const json& steps, const std::string& source) {
  std::vector<std::string> regexes;
  for (size_t k = 0; k + 1 < steps.size(); ++k) {
    const json& split = steps[k];
    const std::string field = "pre_tokenizer.pretokenizers[" + std::to_string(k) + "]";
    if (!split.is_object() || split.value("type", "") != "Split" || split.value("behavior", "") != "Isolated" ||
        split.value("invert", false))
      fail(source, field, "is not Split(behavior Isolated, invert false)");
    if (!split.contains("pattern") || !split["pattern"].is_object() || !split["pattern"].contains("Regex"))
      fail(source, field + ".pattern", "is not a Regex");
    regexes.push_back(split["pattern"]["Regex"].get<std::string>());
  }
  const std::optional<PreTokenizer> kind = pre_tokenizer_from_regexes(regexes);
  if (!kind)
    fail(source, "pre_tokenizer.pretokenizers", json(regexes).dump().substr(0, 300) + " is not the Split pattern list of " +
         pre_tokenizer_display_names());
  const size_t last = steps.size() - 1;
  if (type_of(steps[last], source, "pre_tokenizer.pretokenizers[" + std::to_string(last) + "]") != "ByteLevel")
    fail(source, "pre_tokenizer.pretokenizers[" + std::to_string(last) + "]", "is not ByteLevel");
  return *kind;
}

void read_pre_tokenizer(const json& j, BpeOptions& options, bool& sentencepiece, const std::string& source) {
  if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null()) {
    if (!sentencepiece) fail(source, "pre_tokenizer", "null, and the normalizer is not SentencePiece's");
    return;
  }
  const json& p = j["pre_tokenizer"];
  const std::string type = type_of(p, source, "pre_tokenizer");
  if (type == "ByteLevel") {
    read_byte_level(p, false, options, source);
    options.pre = PreTokenizer::kGpt2;
  } else if (type == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].size() >= 2) {
    options.pre = read_split_sequence(p["pretokenizers"], source);
    read_byte_level(p["pretokenizers"].back(), true, options, source);
  } else if (type == "Metaspace") {
    if (p.value("replacement", "") != kWordMarker) fail(source, "pre_tokenizer.replacement", "is not U+2581");
    // prepend_scheme (tokenizers >= 0.19) or the older add_prefix_space boolean.
    const std::string scheme = p.contains("prepend_scheme") ? p["prepend_scheme"].get<std::string>()
                               : value_or<bool>(p, "add_prefix_space", true) ? "always" : "never";
    using Prepend = BpeOptions::Prepend;
    if (scheme != "first" && scheme != "always" && scheme != "never") fail(source, "pre_tokenizer.prepend_scheme", "'" + scheme + "'");
    options.prepend = scheme == "first" ? Prepend::kFirst : scheme == "always" ? Prepend::kAlways : Prepend::kNever;
    options.split_on_word_marker = value_or<bool>(p, "split", true);
    sentencepiece = true;
  } else {
    fail(source, "pre_tokenizer", "type '" + type + "' is not supported (ByteLevel, Sequence[Split..., ByteLevel], Metaspace)");
  }
}

}  // namespace

BpeTokenizer parse_tokenizer_json(std::string_view json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {  // the byte where the parser stopped (io/read_error.h)
    throw std::invalid_argument(io::json_parse_error("tokenizer", source, 0, e.byte, e.what()));
  } catch (const json::exception& e) {
    throw std::invalid_argument("tokenizer: " + source + ": not JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("model")) fail(source, "model", "missing");
  // Every id takes at least two bytes of the file, so no id past its size is real: nothing is
  // allocated beyond the file's size.
  const size_t id_limit = json_text.size();
  try {
    ModelPart model = read_model(j["model"], id_limit, source);
    std::vector<AddedToken> added = read_added(j, id_limit, model.tokens, source);
    bool sentencepiece = false;
    read_normalizer(j, model.options, sentencepiece, source);
    read_pre_tokenizer(j, model.options, sentencepiece, source);
    if (sentencepiece) model.options.flavour = BpeFlavour::kSentencePiece;
    if (sentencepiece && model.options.nfc) fail(source, "normalizer", "NFC with a SentencePiece-style model is not supported");
    if (!model.unk_token.empty()) {
      const auto it = std::find(model.tokens.begin(), model.tokens.end(), model.unk_token);
      if (it == model.tokens.end()) fail(source, "model.unk_token", "'" + model.unk_token + "' is no token");
      model.options.unk = static_cast<int32_t>(it - model.tokens.begin());
    }
    return BpeTokenizer(std::move(model.tokens), model.merges, std::move(added), model.options);
  } catch (const json::exception& e) {
    throw std::invalid_argument("tokenizer: " + source + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    if (what.starts_with("tokenizer: " + source)) throw;
    throw std::invalid_argument("tokenizer: " + source + ": " + what);
  }
}

BpeTokenizer read_tokenizer_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return parse_tokenizer_json(text, path.string());
}

}  // namespace qforge::exporters::tokenizers
