// The study's new rows on a tiny char-level Llama: QAT started from a post-training cell begins at
// exactly that model (weights and scales, for STE and LSQ), the methods that store their own format
// report their bits per weight, and method strings parse into what the study runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include "trainers/post_training_quantization.h"
#include "trainers/study/study_method.h"
#include "trainers/trainer.h"

namespace qforge::trainers {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() / ("qforge_study_qat_from_ptq_" + std::to_string(::getpid())) / name;
}

config::RunConfig tiny_language_model() {
  const fs::path corpus = temp_path("corpus.txt");
  fs::create_directories(corpus.parent_path());
  std::ofstream out(corpus);
  for (int i = 0; i < 80; ++i) out << "the quick brown fox " << i << " jumps over the lazy dog.\n";
  out.close();
  return parse_run_config(R"(
    model { llama { hidden_size: 32 num_hidden_layers: 2 num_attention_heads: 4 num_key_value_heads: 2
                    intermediate_size: 48 max_position_embeddings: 16 } }
    data { text { corpus: ")" + corpus.string() + R"(" tokenizer: "char" } batch_size: 8 }
    optimizer { name: "adamw" lr: 0.01 clip_grad_norm: 1.0 }
    trainer { steps: 60 log_every: 10 eval_batches: 4 seed: 3 })", "tiny_lm");
}

const std::vector<std::string> kKeepFloat = {"model.embed_tokens", "lm_head"};

// The float run, trained once for every test of this file.
const fs::path& float_run() {
  static const fs::path dir = [] {
    const fs::path d = temp_path("fp32");
    train(tiny_language_model(), {d, true, 0});
    return d;
  }();
  return dir;
}

RunResult quantize(const std::string& method, const std::string& scheme, const std::string& name) {
  PtqOptions options;
  options.float_run = float_run();
  options.output_dir = temp_path(name);
  options.quantization = scheme_rules(scheme, nullptr, kKeepFloat);
  options.calibration_batches = 4;
  options.quantization.mutable_ptq()->set_method(method);
  return post_training_quantize(options);
}

// One QAT step from `start` with a step size far below any weight's or scale's float32 spacing, so
// the evaluation after it is the evaluation of the starting model under the QAT rules.
RunResult qat_step_zero(const std::string& qat_scheme, const fs::path& start, const std::string& name) {
  config::RunConfig run = tiny_language_model();
  *run.mutable_quantization() = scheme_rules(qat_scheme, nullptr, kKeepFloat);
  run.mutable_quantization()->set_init_from(start.string());
  run.mutable_optimizer()->set_name("sgd");
  run.mutable_optimizer()->set_lr(1e-30f);
  run.mutable_trainer()->set_steps(1);
  return train(run, {temp_path(name), true, 0});
}

TEST(StudyQatFromPtq, StepZeroIsTheGptqModelForSteAndLsq) {
  const std::string scheme = "int3:g16:asym";
  const RunResult gptq = quantize("gptq:act_order", scheme, "gptq");
  const RunResult rtn = quantize("rtn", scheme, "rtn");
  // The margins below are 30x the EXPECT_NEAR tolerance; how far apart the losses land depends on the
  // float run, which the -O1 sanitizer build (make test-asan) trains in another summation order: 5e-4 there.
  ASSERT_GT(std::abs(gptq.val_loss - rtn.val_loss), 1e-4) << "GPTQ and RTN must differ for this test to mean anything";
  for (const std::string estimator : {"", ":lsq"}) {
    const RunResult from_gptq = qat_step_zero(scheme + estimator, temp_path("gptq"), "qat_gptq" + estimator);
    EXPECT_NEAR(from_gptq.val_loss, gptq.val_loss, 1e-6 * gptq.val_loss) << "estimator '" << estimator << "'";
    // From the float run, QAT starts at the observer's grid on the float weights instead.
    const RunResult from_float = qat_step_zero(scheme + estimator, float_run(), "qat_float" + estimator);
    EXPECT_GT(std::abs(from_float.val_loss - gptq.val_loss), 1e-4) << "estimator '" << estimator << "'";
  }
}

TEST(StudyQatFromPtq, QuantizedStartMustMatchTheRules) {
  (void)quantize("gptq", "int4:g16", "gptq_int4");
  EXPECT_THAT([] { qat_step_zero("int4:channel", temp_path("gptq_int4"), "mismatch"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("does not fit this run's quantizers")));
}

TEST(StudyQatFromPtq, MethodsThatStoreTheirOwnFormatCountTheirBits) {
  EXPECT_FALSE(quantize("gptq", "int3:g16:asym", "bits_gptq").bits_per_weight.has_value());
  // SpQR (docs/spqr.md §3): w 3 + 2 * 3 / 16 + 2 * 32 / 256 = 3.625, plus 32 bits per outlier.
  EXPECT_DOUBLE_EQ(*quantize("spqr:outlier_fraction=0", "int3:g16:asym", "bits_spqr0").bits_per_weight, 3.625);
  const double with_outliers = *quantize("spqr:outlier_fraction=0.01", "int3:g16:asym", "bits_spqr").bits_per_weight;
  EXPECT_GT(with_outliers, 3.625);
  EXPECT_LE(with_outliers, 3.625 + 32 * 0.01 + 1e-12);
  EXPECT_DOUBLE_EQ(*quantize("quip_sharp", "fp16", "bits_quip").bits_per_weight, 2.0);
}

TEST(StudyMethod, ParsesWhatTheStudyRuns) {
  const StudyMethod combo = parse_study_method("gptq:act_order+qat:lsq");
  EXPECT_EQ(combo.label, "gptq:act_order+qat:lsq");
  EXPECT_EQ(combo.ptq, "gptq:act_order");
  EXPECT_EQ(combo.qat, "qat:lsq");
  EXPECT_EQ(combo.scheme, "");
  const StudyMethod spqr = parse_study_method("spqr@int3:g16:asym");
  EXPECT_EQ(spqr.label, "spqr");
  EXPECT_EQ(spqr.scheme, "int3:g16:asym");
  EXPECT_EQ(study_method_schemes(spqr, {"int4:g128", "int2:g32"}), std::vector<std::string>{"int3:g16:asym"});
  EXPECT_EQ(study_method_schemes(combo, {"int4:g128", "int2:g32"}), (std::vector<std::string>{"int4:g128", "int2:g32"}));
  EXPECT_EQ(parse_study_method("quip_sharp").scheme, "fp16");  // the scheme the method needs
  EXPECT_EQ(parse_study_method("qat").qat, "qat");
  EXPECT_EQ(parse_study_method("ptq").ptq, "ptq");

  EXPECT_TRUE(study_method_seeded(combo, false));
  EXPECT_TRUE(study_method_seeded(parse_study_method("gptq"), false));
  EXPECT_FALSE(study_method_seeded(parse_study_method("ptq"), false));
  EXPECT_TRUE(study_method_seeded(parse_study_method("ptq"), true));

  EXPECT_EQ(with_seed_option("quip_sharp", 2), "quip_sharp:seed=2");
  EXPECT_EQ(with_seed_option("quip_sharp:tune=1", 2), "quip_sharp:tune=1,seed=2");
  EXPECT_EQ(with_seed_option("quip_sharp:seed=5", 2), "quip_sharp:seed=5");
  EXPECT_EQ(with_seed_option("gptq:act_order", 2), "gptq:act_order");  // its randomness is the calibration's

  auto error = [](const std::string& text) {
    try {
      (void)parse_study_method(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(error("quip_sharp@int2:g32"), HasSubstr("runs on weight scheme fp16 only"));
  EXPECT_THAT(error("spqr+qat"), HasSubstr("QAT cannot start from spqr"));
  EXPECT_THAT(error("qat+gptq"), HasSubstr("<post-training method>+qat"));
  EXPECT_THAT(error("ptq+qat"), HasSubstr("rtn+qat for round to nearest"));
  EXPECT_THAT(error("gptq+qat:lsqq"), HasSubstr("gptq+qat:lsqq"));
  EXPECT_THAT(error("gtpq"), HasSubstr("not ptq, qat or a post-training method"));
}

}  // namespace
}  // namespace qforge::trainers
