#include "cli/tokenize_command.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "exporters/tokenizers/sentencepiece_bpe.h"
#include "exporters/tokenizers/tokenizer_json.h"

namespace qforge::cli {

namespace tk = qforge::exporters::tokenizers;

void add_tokenize(CLI::App& app, TokenizeArguments& args) {
  CLI::App* t = app.add_subcommand("tokenize", "Print the token ids of a text (JSON), with a run's, a GGUF's or a tokenizer.json's tokenizer");
  add_model_source_options(*t, args.source);
  CLI::Option* json = t->add_option("--tokenizer", args.tokenizer_json, "Hugging Face tokenizer.json (BPE: byte-level or SentencePiece-style)")
                          ->check(CLI::ExistingFile);
  json->excludes("--checkpoint")->excludes("--gguf");
  CLI::Option* text = t->add_option("--text", args.text, "Text to tokenize");
  CLI::Option* file = t->add_option("--file", args.file, "File whose bytes to tokenize")->check(CLI::ExistingFile);
  text->excludes(file);
  t->add_flag("--parse-special", args.parse_special,
              "With a BPE GGUF vocabulary: split out control tokens written in the text (llama.cpp's parse_special)");
  t->add_option("--write-tokenizer-json", args.write_tokenizer_json,
                "Write the tokenizer of --tokenizer or --gguf (gpt2: byte-level BPE; llama: SentencePiece-style BPE) as tokenizer.json");
}

namespace {

// The BPE tokenizer of --tokenizer, or of a "gpt2" --gguf; nullopt for other sources. With
// `any_gguf`, a SentencePiece --gguf gives its SentencePiece-style BPE (what --write-tokenizer-json writes).
std::optional<tk::BpeTokenizer> bpe_source(const TokenizeArguments& args, bool any_gguf) {
  if (!args.tokenizer_json.empty()) return tk::read_tokenizer_json(args.tokenizer_json);
  if (args.source.gguf.empty()) return std::nullopt;
  const exporters::gguf::GgufReader reader{std::filesystem::path(args.source.gguf)};
  const std::string model = tk::gguf_tokenizer_model(reader.file());
  if (model == "gpt2") return tk::bpe_tokenizer_from_gguf(reader);
  if (model == "llama" && any_gguf) return tk::sentencepiece_bpe_from_gguf(reader.file(), args.source.gguf);
  return std::nullopt;
}

}  // namespace

int run_tokenize(const TokenizeArguments& args) {
  std::string text = args.text;
  if (!args.file.empty()) {
    std::ifstream in(args.file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error(args.file + ": cannot read");
  }
  if (!args.write_tokenizer_json.empty()) {
    const std::optional<tk::BpeTokenizer> bpe = bpe_source(args, true);
    if (!bpe) throw std::invalid_argument("--write-tokenizer-json needs --tokenizer or a --gguf with a gpt2 or llama vocabulary");
    tk::write_tokenizer_json(*bpe, args.write_tokenizer_json);
  }
  std::vector<int64_t> ids;
  if (const std::optional<tk::BpeTokenizer> bpe = bpe_source(args, false)) {
    // tokenizer.json: HF splits out every added token; GGUF: llama.cpp's parse_special decides.
    const std::vector<int32_t> bpe_ids = bpe->encode(text, args.parse_special || !args.tokenizer_json.empty());
    ids.assign(bpe_ids.begin(), bpe_ids.end());
  } else {
    if (args.parse_special) throw std::invalid_argument("--parse-special applies to BPE tokenizers only");
    ids = trainers::load_tokenizer(args.source).encode(text);
  }
  std::string out = "{\"tokens\": [";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace qforge::cli
