#pragma once
// What a user does with a finished run besides training it (trainers/trainer.h): evaluate a
// checkpoint, sample text from the model a command runs on, and the report line both print.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "trainers/language_model_inference.h"
#include "trainers/run_folder.h"

namespace qforge::trainers {

struct RunResult {
  int64_t step = 0;
  int64_t start_step = 0;   // train: the step it started from (the checkpoint's when it resumed, else 0)
  double train_loss = 0.0;  // mean over the last logging window
  double val_loss = 0.0;
  std::optional<double> val_accuracy;  // classifiers only
  // Post-training runs whose method counts its own format (ptq::Method::bits_per_weight: SpQR, QuIP#);
  // unset: the weight scheme's count.
  std::optional<double> bits_per_weight;
};

// "final: step=N train_loss=X val_loss=Y[ val_accuracy=Z]", the last line of train and eval.
std::string final_line(const RunResult& result);

// Loss (and accuracy for classifiers) of the checkpoint's model on its validation/test data.
RunResult evaluate(const std::filesystem::path& checkpoint_dir);

// The mean training loss of the run's last logging window (saved in its checkpoint).
double last_window_loss(const RunFolder& run);

// Prompt followed by a sampled continuation from the model `source` names (load_model), decoded with
// its tokenizer; sampling is limited to the tokenizer's ids (a run's reserved GGUF tokens are not
// the tokenizer's to decode). With options.prompt_tokens the prompt is those ids; a model without a
// decoder (an HF folder) then prints the ids, comma-separated.
std::string generate(const ModelSource& source, const GenerateOptions& options);

}  // namespace qforge::trainers
