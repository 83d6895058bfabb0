// tokenizer.json as a run's tokenizer (hf_text_tokenizer.h).
#include "trainers/hf_text_tokenizer.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "exporters/tokenizers/tokenizer_json.h"

namespace qforge::trainers {

namespace fs = std::filesystem;

HfTextTokenizer::HfTextTokenizer(const std::string& json_text, const std::string& source)
    : bpe_(exporters::tokenizers::parse_tokenizer_json(json_text, source)) {}

data::TokenIds HfTextTokenizer::encode(std::string_view text) const {
  const std::vector<int32_t> ids = bpe_.encode(text, /*split_special=*/true);
  return data::TokenIds(ids.begin(), ids.end());
}

std::string HfTextTokenizer::decode(const data::TokenIds& ids) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= bpe_.size()) data::throw_id_outside_vocabulary("tokenizer.json decode", ids[i], i, vocab_size());
  return bpe_.decode(std::vector<int32_t>(ids.begin(), ids.end()));
}

namespace {

fs::path tokenizer_path(const config::RunConfig& config) {
  const std::string& hf = config.model().llama().hf();
  return hf.empty() ? fs::path() : fs::path(hf) / "tokenizer.json";
}

}  // namespace

std::string text_tokenizer_kind(const config::RunConfig& config) {
  const std::string& kind = config.data().text().tokenizer();
  const fs::path path = tokenizer_path(config);
  if (kind == "hf" && (path.empty() || !fs::is_regular_file(path)))
    throw std::invalid_argument("data.text.tokenizer: 'hf' needs model.llama.hf naming a folder with tokenizer.json" +
                                (path.empty() ? std::string(" (model.llama.hf is not set)") : " (no " + path.string() + ")"));
  if (!kind.empty()) return kind;
  return !path.empty() && fs::is_regular_file(path) ? "hf" : "char";
}

std::string hf_tokenizer_json_text(const config::RunConfig& config) {
  const fs::path path = tokenizer_path(config);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open (data.text.tokenizer hf)");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace qforge::trainers
