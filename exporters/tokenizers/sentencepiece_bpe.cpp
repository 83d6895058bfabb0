// SentencePiece scores -> BPE merges (sentencepiece_bpe.h).
#include "exporters/tokenizers/sentencepiece_bpe.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <unordered_map>

#include "exporters/gguf/spm_tokenizer.h"
#include "exporters/tokenizers/unicode_text.h"

namespace qforge::exporters::tokenizers {
namespace {

namespace gg = qforge::exporters::gguf;

std::vector<float> scores_of(const gg::GgufFile& file, size_t n) {
  std::vector<float> scores(n, 0.0f);
  const gg::Value* value = file.find("tokenizer.ggml.scores");
  const gg::Array* array = value == nullptr ? nullptr : value->get_if<gg::Array>();
  if (array == nullptr) return scores;
  for (size_t i = 0; i < std::min(n, array->elements.size()); ++i) {
    if (const float* f = array->elements[i].get_if<float>()) scores[i] = *f;
  }
  return scores;
}

// SentencePieceExtractor.extract: for each piece, every split into two pieces of the vocabulary (at
// character boundaries), ordered by the pieces' ids; then all of them by the merged piece's score,
// highest first, a stable sort keeping id order among equal scores.
std::vector<std::pair<std::string, std::string>> extract_merges(const std::vector<std::string>& tokens,
                                                                 const std::vector<float>& scores,
                                                                 const std::unordered_map<std::string, int32_t>& ids) {
  struct Entry {
    int32_t piece, left, right;
  };
  std::vector<Entry> entries;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string& piece = tokens[id];
    const std::vector<CodePoint> chars = decode_utf8_lenient(piece);
    std::vector<Entry> local;
    for (size_t k = 1; k + 1 < chars.size(); ++k) {
      const auto l = ids.find(piece.substr(0, chars[k].offset));
      const auto r = ids.find(piece.substr(chars[k].offset));
      if (l != ids.end() && r != ids.end()) local.push_back({static_cast<int32_t>(id), l->second, r->second});
    }
    std::sort(local.begin(), local.end(),
              [](const Entry& a, const Entry& b) { return a.left != b.left ? a.left < b.left : a.right < b.right; });
    entries.insert(entries.end(), local.begin(), local.end());
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [&](const Entry& a, const Entry& b) { return scores[a.piece] > scores[b.piece]; });
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(entries.size());
  for (const Entry& e : entries) merges.emplace_back(tokens[e.left], tokens[e.right]);
  return merges;
}

}  // namespace

BpeTokenizer sentencepiece_bpe_from_gguf(const gg::GgufFile& file, const std::string& source) {
  // SpmTokenizer::from_gguf validates the keys (and names source and key in its errors).
  const gg::SpmTokenizer spm = gg::SpmTokenizer::from_gguf(file, source);
  std::vector<std::string> tokens(spm.size());
  for (size_t id = 0; id < spm.size(); ++id) tokens[id] = spm.token(static_cast<int32_t>(id));
  std::unordered_map<std::string, int32_t> ids;
  for (size_t id = 0; id < tokens.size(); ++id) ids[tokens[id]] = static_cast<int32_t>(id);
  BpeOptions options;
  options.flavour = BpeFlavour::kSentencePiece;
  options.byte_fallback = true;
  options.fuse_unk = true;  // transformers' LlamaConverter writes fuse_unk true
  options.prepend = spm.add_space_prefix() ? BpeOptions::Prepend::kAlways : BpeOptions::Prepend::kNever;
  std::vector<AddedToken> added;
  const gg::Value* types_value = file.find("tokenizer.ggml.token_type");
  const gg::Array* types = types_value == nullptr ? nullptr : types_value->get_if<gg::Array>();
  for (size_t id = 0; types != nullptr && id < std::min(tokens.size(), types->elements.size()); ++id) {
    const int32_t* type = types->elements[id].get_if<int32_t>();
    if (type == nullptr) continue;
    const auto t = static_cast<gg::SpmTokenType>(*type);
    if (t == gg::SpmTokenType::kUnknown && !options.unk) options.unk = static_cast<int32_t>(id);
    if (t == gg::SpmTokenType::kControl || t == gg::SpmTokenType::kUserDefined || t == gg::SpmTokenType::kUnknown)
      added.push_back({static_cast<int32_t>(id), tokens[id], t != gg::SpmTokenType::kUserDefined, false, false});
  }
  const std::vector<std::pair<std::string, std::string>> merges = extract_merges(tokens, scores_of(file, tokens.size()), ids);
  return BpeTokenizer(std::move(tokens), merges, std::move(added), options);
}

}  // namespace qforge::exporters::tokenizers
