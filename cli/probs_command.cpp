#include "cli/probs_command.h"

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "trainers/language_model_inference.h"

namespace qforge::cli {

namespace {

std::vector<int64_t> parse_token_list(const std::string& text) {
  std::vector<int64_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string field = text.substr(start, comma - start);
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(field, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (field.empty() || used != field.size() || id < 0)
      throw std::invalid_argument("--tokens: '" + field + "' (item " + std::to_string(ids.size()) +
                                  ") is not a non-negative integer");
    ids.push_back(id);
    start = comma + 1;
  }
  return ids;
}

}  // namespace

void add_probs(CLI::App& app, ProbsArguments& args) {
  CLI::App* p = app.add_subcommand("probs", "Print the next-token distribution after every prefix of a token sequence (JSON)");
  add_model_source_options(*p, args.source);
  add_lora_options(*p, args.source);
  p->add_option("--tokens", args.tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
}

int run_probs(const ProbsArguments& args) {
  const std::vector<int64_t> tokens = parse_token_list(args.tokens);
  const trainers::LoadedModel loaded = trainers::load_model(args.source);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] >= loaded.vocab_size)
      throw std::invalid_argument("--tokens: id " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                                  " is outside the vocabulary of " + std::to_string(loaded.vocab_size));
  }
  const std::vector<std::vector<double>> rows = trainers::next_token_probabilities(*loaded.model, tokens);
  std::string out = "{\"tokens\": [";
  char number[32];
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? ", " : "") + std::to_string(tokens[i]);
  out += "], \"probs\": [";
  for (size_t t = 0; t < rows.size(); ++t) {
    out += t ? ", [" : "[";
    for (size_t v = 0; v < rows[t].size(); ++v) {
      std::snprintf(number, sizeof number, "%s%.9g", v ? ", " : "", rows[t][v]);
      out += number;
    }
    out += "]";
  }
  out += "]}\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace qforge::cli
