// LoRA / QLoRA runs end to end on a tiny char-level Llama: only the adapters train and are
// checkpointed, resuming is bit-identical, the merged model computes what the adapted one does, and a
// GGUF base kept in its own blocks holds exactly the file's weights (q/k rows back in HF order).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "autograd/ops.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "tests/support/error_of.h"
#include "trainers/checkpoint.h"
#include "trainers/gguf_evaluate.h"
#include "trainers/language_model_inference.h"
#include "trainers/lora_model.h"
#include "trainers/run_folder.h"
#include "trainers/trainer.h"

namespace qforge::trainers {
namespace {

using ::testing::HasSubstr;
using qforge::testing::error_of;
namespace fs = std::filesystem;

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("qforge_lora_run_" + std::to_string(::getpid())) / name;
}

// Rows of 32 and 64 weights: Q8_0 blocks fit, so a GGUF base can keep its blocks.
config::RunConfig base_config() {
  const auto corpus = temp_path("corpus.txt");
  fs::create_directories(corpus.parent_path());
  std::ofstream out(corpus);
  for (int i = 0; i < 80; ++i) out << "the quick brown fox " << i << " jumps over the lazy dog.\n";
  out.close();
  return parse_run_config(R"(
    model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                    intermediate_size: 64 max_position_embeddings: 16 } }
    data { text { corpus: ")" + corpus.string() + R"(" tokenizer: "char" corpus_end: 0.5 } batch_size: 4 }
    optimizer { name: "adamw" lr: 0.01 clip_grad_norm: 1.0 }
    trainer { steps: 20 log_every: 5 eval_batches: 2 seed: 5 })", "tiny_base");
}

config::RunConfig lora_config(const std::string& base, const std::string& format) {
  config::RunConfig c = base_config();
  c.clear_model();  // taken from the base
  c.mutable_data()->mutable_text()->set_corpus_begin(0.5f);
  c.mutable_data()->mutable_text()->set_corpus_end(1.0f);
  c.mutable_trainer()->set_steps(12);
  c.mutable_lora()->set_base(base);
  c.mutable_lora()->set_base_format(format);
  c.mutable_lora()->set_rank(4);
  c.mutable_lora()->set_alpha(8);
  c.mutable_lora()->set_dropout(0.1f);
  return c;
}

const fs::path& trained_base() {
  static const fs::path dir = [] {
    const fs::path d = temp_path("base");
    train(base_config(), {d, true, 0});
    return d;
  }();
  return dir;
}

std::vector<float> logits(layers::LlamaForCausalLM& model) {
  autograd::NoGradGuard no_grad;
  model.eval();
  const autograd::IndexTensor ids(autograd::Shape{1, 8}, std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
  return model.forward(ids).data().to_vector();
}

float max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(LoraRun, CheckpointHoldsOnlyAdaptersAndResumesBitIdentically) {
  const config::RunConfig config = lora_config(trained_base().string(), "nf4");
  const fs::path straight = temp_path("nf4_straight"), split = temp_path("nf4_split");
  const RunResult whole = train(config, {straight, true, 0});
  train(config, {split, true, 5});
  const RunResult resumed = train(config, {split, false, 0});
  EXPECT_EQ(whole.train_loss, resumed.train_loss);
  EXPECT_EQ(whole.val_loss, resumed.val_loss);
  EXPECT_EQ(evaluate(straight).val_loss, whole.val_loss);  // eval rebuilds the NF4 base from lora.base
  const Checkpoint c = load_checkpoint(straight);
  ASSERT_EQ(c.model.size(), 2u * 7u * 2u);  // A and B, 7 projections, 2 layers
  for (const auto& [name, tensor] : c.model) {
    EXPECT_TRUE(name.ends_with(".lora_A.weight") || name.ends_with(".lora_B.weight")) << name;
    if (name.ends_with(".lora_A.weight")) EXPECT_EQ(tensor.dim(0), 4) << name;
  }
  bool b_moved = false;
  for (const auto& [name, tensor] : c.model)
    if (name.ends_with(".lora_B.weight"))
      for (float v : tensor.to_vector()) b_moved |= v != 0.0f;
  EXPECT_TRUE(b_moved) << "B starts at zero and must train";
}

TEST(LoraRun, MergedModelComputesTheAdaptedModel) {
  for (const std::string format : {"f32", "nf4"}) {
    const fs::path dir = temp_path("merge_" + format);
    train(lora_config(trained_base().string(), format), {dir, true, 0});
    InferenceModel adapted = restore_inference_model(dir);  // adapters unmerged, base as trained on
    exporters::LlamaExport merged = restore_language_model(dir);
    const std::vector<float> a = logits(*adapted.model), m = logits(*merged.model);
    EXPECT_LT(max_abs_difference(a, m), 1e-4f) << format;
    InferenceModel base = restore_inference_model(trained_base());
    EXPECT_GT(max_abs_difference(a, logits(*base.model)), 1e-3f) << format << ": the adapter changed nothing";
  }
}

TEST(LoraRun, GgufBaseKeepsTheFileBlocks) {
  const fs::path file = temp_path("base.Q8_0.gguf");
  exporters::LlamaExport base = restore_language_model(trained_base());
  exporters::gguf::LlamaExportOptions options;
  options.type = exporters::gguf::LlamaFileType::kQ8_0;
  exporters::gguf::write_llama_gguf(file, *base.model, base.vocabulary, options);
  const auto imported = exporters::gguf::read_llama_gguf(file).model;
  const config::RunConfig config = with_base_model(lora_config(file.string(), "gguf"));
  const fs::path dir = temp_path("gguf_lora");
  train(config, {dir, true, 0});
  InferenceModel adapted = restore_inference_model(dir);
  int packed = 0;
  for (const auto& [path, module] : adapted.model->named_modules()) {
    auto linear = std::dynamic_pointer_cast<layers::Linear>(module);
    if (!linear || !linear->is_packed()) continue;
    ++packed;
    EXPECT_EQ(linear->packed_weight()->format(), "q8_0") << path;
    const auto expected = imported->state_dict().at(path + ".weight").to_vector();
    EXPECT_EQ(linear->dense_weight().to_vector(), expected) << path << " (q/k rows must be un-permuted)";
  }
  EXPECT_EQ(packed, 14);
  // Merged and written again (the run's vocabulary is the base file's).
  exporters::LlamaExport merged = restore_language_model(dir);
  EXPECT_EQ(merged.vocabulary, exporters::gguf::read_llama_gguf(file).tokens);
  EXPECT_NO_THROW(exporters::gguf::write_llama_gguf(temp_path("merged.gguf"), *merged.model, merged.vocabulary, options));
}

// A hub file's rope scaling (rope_freqs.weight, docs/gguf.md §15) is part of the base: the run records it
// (model.llama.rope_scaling), trains, resumes and exports with it, in either base format.
TEST(LoraRun, GgufBaseKeepsItsRopeScaling) {
  exporters::LlamaExport base = restore_language_model(trained_base());
  layers::LlamaConfig scaled_config = base.model->config();
  scaled_config.rope_scaling.type = layers::RopeScaling::Type::kFactors;
  scaled_config.rope_scaling.freq_factors = {1.0f, 1.25f, 3.5f, 8.0f, 8.0f, 8.0f, 8.0f, 8.0f};  // head_dim 16
  layers::LlamaForCausalLM scaled(scaled_config);
  scaled.load_state_dict(base.model->state_dict(), true);
  const fs::path file = temp_path("scaled.Q8_0.gguf");
  exporters::gguf::LlamaExportOptions options;
  options.type = exporters::gguf::LlamaFileType::kQ8_0;
  exporters::gguf::write_llama_gguf(file, scaled, base.vocabulary, options);
  for (const std::string format : {"gguf", "f32"}) {
    const config::RunConfig config = with_base_model(lora_config(file.string(), format));
    EXPECT_EQ(config.model().llama().rope_scaling(), "factors");
    EXPECT_EQ(std::vector<float>(config.model().llama().rope_freq_factors().begin(), config.model().llama().rope_freq_factors().end()),
              scaled_config.rope_scaling.freq_factors);
    const fs::path dir = temp_path("scaled_lora_" + format);
    train(config, {dir, true, 0});
    const InferenceModel adapted = restore_inference_model(dir);
    EXPECT_EQ(adapted.model->config().rope_scaling.type, layers::RopeScaling::Type::kFactors) << format;
    EXPECT_EQ(adapted.model->config().rope_scaling.freq_factors, scaled_config.rope_scaling.freq_factors) << format;
    exporters::LlamaExport merged = restore_language_model(dir);
    const fs::path out = temp_path("scaled_merged_" + format + ".gguf");
    exporters::gguf::write_llama_gguf(out, *merged.model, merged.vocabulary, options);
    EXPECT_EQ(exporters::gguf::read_llama_gguf(out).model->config().rope_scaling.freq_factors,
              scaled_config.rope_scaling.freq_factors) << format;
  }
  // `eval --gguf` puts a file's weights into the run's graph: refused when the two rotate differently.
  EXPECT_THAT(error_of([&] { evaluate_gguf(trained_base(), file); }),
              HasSubstr(file.string() + ": its rope frequencies differ from the run's model's by 0.875000 relative"));
}

TEST(LoraRun, ErrorsNameTheProblem) {
  config::RunConfig missing = lora_config(temp_path("nowhere").string(), "nf4");
  EXPECT_THAT(error_of([&] { train(missing, {temp_path("e1"), true, 0}); }), HasSubstr("nowhere"));
  config::RunConfig gguf_format = lora_config(trained_base().string(), "gguf");
  EXPECT_THAT(error_of([&] { train(gguf_format, {temp_path("e2"), true, 0}); }), HasSubstr("base_format"));
  config::RunConfig with_rules = lora_config(trained_base().string(), "nf4");
  with_rules.mutable_quantization()->set_preset("Q4_K_M");
  EXPECT_THAT(error_of([&] { train(with_rules, {temp_path("e3"), true, 0}); }), HasSubstr("quantization"));
}

}  // namespace
}  // namespace qforge::trainers
