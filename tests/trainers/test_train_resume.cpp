// Interrupting a run and resuming it from its checkpoint gives bit-identical losses to the
// uninterrupted run, for a language model and for a classifier.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/error_of.h"
#include "trainers/trainer.h"

namespace qforge::trainers {
namespace {

using ::testing::HasSubstr;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("qforge_resume_" + std::to_string(::getpid())) / name;
}

config::RunConfig tiny_language_model() {
  const auto corpus = temp_path("corpus.txt");
  std::filesystem::create_directories(corpus.parent_path());
  std::ofstream out(corpus);
  for (int i = 0; i < 60; ++i) out << "the quick brown fox " << i << " jumps over the lazy dog.\n";
  out.close();
  return parse_run_config(R"(
    model { llama { hidden_size: 16 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                    intermediate_size: 24 max_position_embeddings: 16 } }
    data { text { corpus: ")" + corpus.string() + R"(" tokenizer: "char" } batch_size: 4 }
    optimizer { name: "adamw" lr: 0.01 weight_decay: 0.1 clip_grad_norm: 1.0 }
    schedule { kind: "cosine" warmup_steps: 3 min_lr: 0.001 }
    trainer { steps: 12 log_every: 1 eval_batches: 2 seed: 5 })", "tiny_lm");
}

// Per-step training losses from metrics.jsonl, as written (full double precision).
std::vector<double> train_losses(const std::filesystem::path& run_dir) {
  std::ifstream in(run_dir / "metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record["event"] == "train") losses.push_back(record["loss"].get<double>());
  }
  return losses;
}

void expect_resume_matches(const config::RunConfig& config, int64_t stop_after) {
  TrainOptions straight{temp_path("straight"), true, 0};
  const RunResult uninterrupted = train(config, straight);

  TrainOptions interrupted{temp_path("interrupted"), true, stop_after};
  const RunResult partial = train(config, interrupted);
  EXPECT_EQ(partial.step, stop_after);
  interrupted.fresh = false;
  interrupted.stop_after_steps = 0;
  const RunResult resumed = train(config, interrupted);
  EXPECT_EQ(resumed.start_step, stop_after) << "a restart, not a resume";  // a restart gives the same losses
  EXPECT_EQ(uninterrupted.start_step, 0);

  const std::vector<double> a = train_losses(straight.run_dir), b = train_losses(interrupted.run_dir);
  ASSERT_EQ(a.size(), static_cast<size_t>(config.trainer().steps()));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i + 1;  // bit-identical
  EXPECT_EQ(uninterrupted.step, resumed.step);
  EXPECT_EQ(uninterrupted.train_loss, resumed.train_loss);
  EXPECT_EQ(uninterrupted.val_loss, resumed.val_loss);
  EXPECT_EQ(uninterrupted.val_accuracy, resumed.val_accuracy);
  EXPECT_LT(a.back(), a.front()) << "the run should learn something";
  // eval of the final checkpoint reports what training reported.
  const RunResult evaluated = evaluate(interrupted.run_dir);
  EXPECT_EQ(evaluated.val_loss, resumed.val_loss);
  EXPECT_EQ(evaluated.train_loss, resumed.train_loss);
}

TEST(TrainResume, LanguageModelResumesBitIdentically) {
  expect_resume_matches(tiny_language_model(), 5);
  GenerateOptions options;
  options.prompt = "the ";
  options.max_new_tokens = 10;
  const std::string text = generate(ModelSource{.checkpoint = temp_path("interrupted").string(), .gguf = "", .lora = ""}, options);
  EXPECT_EQ(text.rfind("the ", 0), 0u);
  EXPECT_EQ(text.size(), 14u);
  EXPECT_EQ(generate(ModelSource{.checkpoint = temp_path("interrupted").string(), .gguf = "", .lora = ""}, options), text) << "same seed, same sample";
  std::filesystem::remove_all(temp_path(""));
}

TEST(TrainResume, ClassifierResumesBitIdentically) {
  const config::RunConfig config = parse_run_config(R"(
    model { mlp { hidden: [16] } }
    data { fashion_mnist {} batch_size: 32 }
    optimizer { name: "sgd" lr: 0.05 momentum: 0.9 nesterov: true }
    trainer { steps: 8 log_every: 1 eval_batches: 1 seed: 3 })", "tiny_mlp");
  expect_resume_matches(config, 3);
  std::filesystem::remove_all(temp_path(""));
}

TEST(TrainResume, ChangedConfigIsRefused) {
  config::RunConfig config = tiny_language_model();
  TrainOptions options{temp_path("changed"), true, 2};
  train(config, options);
  config.mutable_optimizer()->set_lr(0.5f);
  options.fresh = false;
  EXPECT_THAT(qforge::testing::error_of([&] { train(config, options); }), HasSubstr("different config"));
  std::filesystem::remove_all(temp_path(""));
}

}  // namespace
}  // namespace qforge::trainers
