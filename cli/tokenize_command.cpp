#include "cli/tokenize_command.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace qforge::cli {

void add_tokenize(CLI::App& app, TokenizeArguments& args) {
  CLI::App* t = app.add_subcommand("tokenize", "Print the token ids of a text (JSON), with a run's or a GGUF's tokenizer");
  add_model_source_options(*t, args.source);
  CLI::Option* text = t->add_option("--text", args.text, "Text to tokenize");
  CLI::Option* file = t->add_option("--file", args.file, "File whose bytes to tokenize")->check(CLI::ExistingFile);
  text->excludes(file);
}

int run_tokenize(const TokenizeArguments& args) {
  std::string text = args.text;
  if (!args.file.empty()) {
    std::ifstream in(args.file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) throw std::runtime_error(args.file + ": cannot read");
  }
  const trainers::LoadedModel loaded = trainers::load_tokenizer(args.source);
  std::string out = "{\"tokens\": [";
  const std::vector<int64_t> ids = loaded.encode(text);
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace qforge::cli
