#include "cli/generate_command.h"

#include <stdexcept>

#include "trainers/language_model_inference.h"

namespace qforge::cli {

std::string generate_text(const ModelSource& source, const trainers::GenerateOptions& options) {
  if (!source.checkpoint.empty() && source.gguf.empty()) return trainers::generate(source.checkpoint, options);
  const LoadedModel loaded = load_model(source);
  const std::vector<int64_t> prompt = loaded.encode(options.prompt);
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt is empty");
  return loaded.decode(trainers::generate_tokens(*loaded.model, prompt, options));
}

}  // namespace qforge::cli
