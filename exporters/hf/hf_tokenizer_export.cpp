// Tokenizer files of an HF folder (hf_tokenizer_export.h). tokenizer_config.json keys: transformers'
// tokenization_utils_base.py (PreTrainedTokenizerBase: model_max_length, bos/eos/unk_token,
// clean_up_tokenization_spaces) and tokenization_utils_fast.py (tokenizer_class PreTrainedTokenizerFast).
#include "exporters/hf/hf_tokenizer_export.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "exporters/tokenizers/tokenizer_json.h"
#include "exporters/tokenizers/vocabulary_bpe.h"
#include "io/atomic_file.h"

namespace qforge::exporters::hf {
namespace {

namespace fs = std::filesystem;
namespace tk = exporters::tokenizers;

// <s>, </s>, <unk> when the tokenizer has them as special added tokens (qforge's reserved GGUF tokens,
// SentencePiece-style files).
nlohmann::ordered_json tokenizer_config(const tk::BpeTokenizer& t, int64_t context) {
  nlohmann::ordered_json j;
  j["tokenizer_class"] = "PreTrainedTokenizerFast";
  j["model_max_length"] = context;
  j["clean_up_tokenization_spaces"] = false;  // decode returns the text the ids stand for
  for (const auto& [key, text] : {std::pair{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}})
    for (const tk::AddedToken& a : t.added_tokens())
      if (a.special && a.content == text) j[key] = text;
  return j;
}

void remove_stale(const fs::path& dir) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"}) fs::remove(dir / name);
}

}  // namespace

std::string write_hf_tokenizer(const LlamaExport& model, const fs::path& dir, int64_t context) {
  const std::string& kind = model.tokenizer_kind;
  if (kind != "hf" && kind != "char" && kind != "byte") {
    remove_stale(dir);
    return "the run was trained on token ids: no tokenizer.json written";
  }
  std::string json_text;
  try {
    json_text = kind == "hf" ? model.tokenizer_json : tk::tokenizer_json_text(tk::vocabulary_bpe(kind, model.vocabulary));
  } catch (const std::invalid_argument& e) {
    remove_stale(dir);
    return std::string("no tokenizer.json written: ") + e.what();
  }
  // Read back: what the folder's readers get (for "hf" runs, the file the run parsed when it trained).
  const tk::BpeTokenizer written = tk::parse_tokenizer_json(json_text, (dir / "tokenizer.json").string());
  io::write_file_atomically(dir / "tokenizer.json", json_text);
  io::write_file_atomically(dir / "tokenizer_config.json", tokenizer_config(written, context).dump(2) + "\n");
  return "tokenizer.json (" + std::string(kind == "hf" ? "the run's" : kind + " vocabulary, " +
                                                                        std::to_string(written.size()) + " tokens") + ")";
}

}  // namespace qforge::exporters::hf
