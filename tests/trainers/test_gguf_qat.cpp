// Format-exact GGUF QAT (trainers/gguf_qat.h): the Q4_K_M preset assigns the types of llama.cpp's mix,
// and a run trained with it exports with zero gap — every weight dequantized from the GGUF file equals,
// bit for bit, the fake-quantized weight the trained model's forward uses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "autograd/ops.h"
#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "fakequant/fake_quant_ggml.h"
#include "layers/quantizable.h"
#include "tests/support/error_of.h"
#include "tests/support/tiny_llama.h"
#include "trainers/checkpoint.h"
#include "trainers/lora_model.h"
#include "trainers/gguf_evaluate.h"
#include "trainers/gguf_qat.h"
#include "trainers/language_model_setup.h"
#include "trainers/quantization_setup.h"
#include "trainers/run_folder.h"
#include "trainers/trainer.h"
#include "exporters/gguf/llama_exporter.h"

namespace qforge::trainers {
namespace {

namespace gg = exporters::gguf;
using ::testing::HasSubstr;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("qforge_gguf_qat_" + std::to_string(::getpid())) / name;
}

// dim 256: q/k/v/o/gate/up rows fill Q4_K super-blocks; ffn 320: ffn_down falls back to Q5_0 / Q8_0.
config::RunConfig preset_run(const std::string& preset = "Q4_K_M") {
  const auto corpus = temp_path("corpus.txt");
  std::filesystem::create_directories(corpus.parent_path());
  std::ofstream out(corpus);
  for (int i = 0; i < 40; ++i) out << "the quick brown fox " << i << " jumps over the lazy dog.\n";
  out.close();
  return parse_run_config(R"(
    model { llama { reserve_gguf_tokens: true hidden_size: 256 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                    intermediate_size: 320 max_position_embeddings: 16 } }
    data { text { corpus: ")" + corpus.string() + R"(" tokenizer: "char" } batch_size: 2 }
    optimizer { name: "adamw" lr: 0.003 }
    quantization { preset: ")" + preset + R"(" }
    trainer { steps: 3 log_every: 1 eval_batches: 1 seed: 7 })", "gguf_qat");
}

std::map<std::string, uint32_t> file_types(const std::filesystem::path& path) {
  const gg::GgufReader reader{path};
  std::map<std::string, uint32_t> types;
  for (const gg::TensorInfo& t : reader.file().tensors) types[t.name] = t.type;
  return types;
}

// The weights the trained model's forward uses: each quantizable layer's effective_weight().
std::map<std::string, autograd::Tensor> forward_weights(const config::RunConfig& config, const std::filesystem::path& dir,
                                                        int64_t vocab) {
  layers::LlamaForCausalLM model(llama_config(config.model().llama(), vocab, config.trainer().seed()));
  apply_quantization(model, config);
  const Checkpoint checkpoint = load_checkpoint(dir);
  load_run_weights(model, config, checkpoint, dir.string());  // parameters and quantizer counters
  apply_run_importance(model, config.quantization().imatrix(), dir);  // the run folder's imatrix copy, if any
  model.eval();
  autograd::NoGradGuard no_grad;
  std::map<std::string, autograd::Tensor> weights;
  for (const auto& [name, param] : model.named_parameters()) {
    if (!is_quantizer_parameter(name)) weights[name] = param.data();
  }
  for (const auto& [name, module] : model.named_modules()) {
    if (auto* layer = dynamic_cast<layers::Quantizable*>(module.get())) {
      EXPECT_NE(layer->weight_quantizer(), nullptr) << name << ": the preset quantizes every Linear and Embedding";
      weights[name + ".weight"] = layer->effective_weight().data();
    }
  }
  return weights;
}

// Exports the trained run with `file_type` and compares every tensor of the file, read back, with the
// trained forward's weights; `except`: a tensor only approximately equal (int4 values re-encoded).
std::map<std::string, uint32_t> expect_zero_gap(const config::RunConfig& config, const std::filesystem::path& dir,
                                                const std::string& file_type, const std::string& except = "") {
  const exporters::LlamaExport run = restore_language_model(dir);
  const gg::LlamaExportOptions options = gg::llama_export_options(run, file_type, "qat");
  const auto file = temp_path("qat." + file_type + ".gguf");
  gg::write_llama_gguf(file, *run.model, run.vocabulary, options);
  const int64_t vocab = run.model->config().vocab_size;
  const std::map<std::string, autograd::Tensor> expected = forward_weights(config, dir, vocab);
  const gg::ImportedLlama imported = gg::read_llama_gguf(file);
  EXPECT_EQ(expected.size(), imported.model->named_parameters().size());
  int64_t exact = 0;
  for (const auto& [name, param] : imported.model->named_parameters()) {
    const autograd::Tensor& want = expected.at(name);
    const autograd::Tensor& got = param.data();  // embedding / output: GGUF has extra (zero) token rows
    EXPECT_GE(got.numel(), want.numel()) << name;
    if (got.numel() < want.numel() || name == except) continue;
    const bool equal = std::memcmp(got.data(), want.data(), sizeof(float) * want.numel()) == 0;
    EXPECT_TRUE(equal) << name << " exported with --type '" << file_type << "' differs from the trained forward";
    if (equal && want.ndim() == 2) exact += want.numel();
  }
  // Every 2-D weight: embedding + lm_head (vocab x 256) and, per layer, q, o (256 x 256), k, v
  // (128 x 256), gate, up, down (320 x 256), minus the `except` tensor when there is one.
  const int64_t per_layer = 2 * 256 * 256 + 2 * 128 * 256 + 3 * 320 * 256;
  EXPECT_EQ(exact, 2 * vocab * 256 + 2 * per_layer - (except.empty() ? 0 : 320 * 256)) << file_type;
  std::printf("--type %s: %lld weights of 2-D tensors equal the trained forward's bit for bit\n", file_type.empty() ? "(preset)" : file_type.c_str(),
              static_cast<long long>(exact));
  return file_types(file);
}

TEST(GgufQat, ExportedWeightsEqualTheTrainedForwardBitForBit) {
  config::RunConfig config = preset_run();
  // One layer trains with a generic scheme instead of its GGUF type (rules come before the preset).
  config::QuantRule* int4 = config.mutable_quantization()->add_rules();
  int4->set_pattern("model.layers.0.mlp.gate_proj");
  int4->mutable_weight()->set_scheme("int4:g32");
  const auto dir = temp_path("run");
  const RunResult trained = train(config, TrainOptions{dir, true, 0});
  ASSERT_EQ(trained.step, 3);
  ASSERT_TRUE(std::isfinite(trained.val_loss));
  const exporters::LlamaExport run = restore_language_model(dir);
  EXPECT_EQ(run.preset, "Q4_K_M");
  ASSERT_EQ(run.notes.size(), 1u);
  EXPECT_THAT(run.notes[0], HasSubstr("model.layers.0.mlp.gate_proj.weight (int4 sym g32"));
  EXPECT_EQ(run.ggml_types.size(), 2u + 2u * 7u - 1u);

  // Default type: the preset. The int4 layer's fake-quantized values are re-encoded as Q4_K (not exact).
  const std::map<std::string, uint32_t> types = expect_zero_gap(config, dir, "", "model.layers.0.mlp.gate_proj.weight");
  EXPECT_EQ(types.at("token_embd.weight"), gg::kGgmlQ4_K);
  EXPECT_EQ(types.at("output.weight"), gg::kGgmlQ6_K);
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), gg::kGgmlQ4_K);
  EXPECT_EQ(types.at("blk.0.attn_v.weight"), gg::kGgmlQ4_K);
  EXPECT_EQ(types.at("blk.1.attn_v.weight"), gg::kGgmlQ6_K);    // use_more_bits(1, 2)
  EXPECT_EQ(types.at("blk.0.ffn_down.weight"), gg::kGgmlQ5_0);  // Q4_K, 320 % 256 != 0
  EXPECT_EQ(types.at("blk.1.ffn_down.weight"), gg::kGgmlQ8_0);  // Q6_K, 320 % 256 != 0
  EXPECT_EQ(types.at("blk.0.ffn_gate.weight"), gg::kGgmlQ4_K);  // the mix's type for the int4 layer
  EXPECT_EQ(types.at("blk.0.attn_norm.weight"), gg::kGgmlF32);

  // F32 for the rest: the GGUF-trained tensors keep their trained types, the int4 layer is exact too.
  const std::map<std::string, uint32_t> f32 = expect_zero_gap(config, dir, "F32");
  // ... so the file evaluates to the trained (fake-quantized) model's validation loss.
  const double file_loss = evaluate_gguf(dir, temp_path("qat.F32.gguf")).val_loss;
  const double trained_loss = evaluate(dir).val_loss;
  EXPECT_NEAR(file_loss, trained_loss, 1e-6);
  std::printf("val_loss: trained forward %.9f, exported F32 file %.9f\n", trained_loss, file_loss);
  EXPECT_EQ(f32.at("blk.1.ffn_down.weight"), gg::kGgmlQ8_0);
  EXPECT_EQ(f32.at("output.weight"), gg::kGgmlQ6_K);
  EXPECT_EQ(f32.at("blk.0.ffn_gate.weight"), gg::kGgmlF32);
}

// A 3-bit preset: Q3_K weights with llama.cpp's Q3_K_M mix (docs/gguf.md §7), trained briefly, export
// with no gap. ne0 256 everywhere except ffn_down (320: Q4_K -> Q5_0 fallback).
TEST(GgufQat, Q3_K_MPresetExportsTheTrainedForwardBitForBit) {
  const config::RunConfig config = preset_run("Q3_K_M");
  const auto dir = temp_path("run_q3_k_m");
  const RunResult trained = train(config, TrainOptions{dir, true, 0});
  ASSERT_EQ(trained.step, 3);
  ASSERT_TRUE(std::isfinite(trained.val_loss));
  const exporters::LlamaExport run = restore_language_model(dir);
  EXPECT_EQ(run.preset, "Q3_K_M");
  EXPECT_EQ(run.ggml_types.size(), 2u + 2u * 7u);
  const std::map<std::string, uint32_t> types = expect_zero_gap(config, dir, "");
  EXPECT_EQ(types.at("token_embd.weight"), gg::kGgmlQ3_K);
  EXPECT_EQ(types.at("output.weight"), gg::kGgmlQ6_K);
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), gg::kGgmlQ3_K);
  EXPECT_EQ(types.at("blk.1.ffn_up.weight"), gg::kGgmlQ3_K);
  EXPECT_EQ(types.at("blk.0.attn_v.weight"), gg::kGgmlQ5_K);       // i_attention_wv < 2
  EXPECT_EQ(types.at("blk.1.attn_v.weight"), gg::kGgmlQ5_K);
  EXPECT_EQ(types.at("blk.0.attn_output.weight"), gg::kGgmlQ4_K);
  EXPECT_EQ(types.at("blk.1.ffn_down.weight"), gg::kGgmlQ5_0);     // Q4_K, 320 % 256 != 0
  // The export's weights read back are the trained forward's, so its loss is the trained loss.
  const double file_loss = evaluate_gguf(dir, temp_path("qat..gguf")).val_loss;
  EXPECT_NEAR(file_loss, evaluate(dir).val_loss, 1e-6);
}

// Importance-weighted QAT (quantization.imatrix): the forward weights each codec with the imatrix, the
// run folder keeps its copy (the source may go), and the export weights the trained tensors with the
// same importance, so the file still equals the trained forward bit for bit.
// A synthetic imatrix for preset_run's model: every projection of both layers, uneven importance.
std::filesystem::path write_test_imatrix(const std::string& name) {
  gg::Imatrix imatrix;
  imatrix.datasets = {"test"};
  imatrix.chunk_count = 1;
  imatrix.chunk_size = 16;
  for (int layer = 0; layer < 2; ++layer) {
    for (const char* name : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
      const int64_t cols = std::string(name) == "ffn_down" ? 320 : 256;
      gg::ImatrixEntry entry;
      entry.counts = {4.0f};
      for (int64_t j = 0; j < cols; ++j) entry.in_sum2.push_back(static_cast<float>(1 + (j * 7 + layer) % 13) * (j % 5 == 0 ? 50.f : 1.f));
      imatrix.entries["blk." + std::to_string(layer) + "." + name + ".weight"] = entry;
    }
  }
  const auto source = temp_path(name);
  gg::write_imatrix(source, imatrix);
  return source;
}

TEST(GgufQat, ImatrixWeightedQatExportsTheTrainedForwardBitForBit) {
  config::RunConfig config = preset_run("Q3_K_M");
  const auto source = write_test_imatrix("importance.gguf");
  config.mutable_quantization()->set_imatrix(source.string());
  const auto dir = temp_path("run_q3_k_m_imatrix");
  const RunResult trained = train(config, TrainOptions{dir, true, 0});
  ASSERT_EQ(trained.step, 3);
  ASSERT_TRUE(std::filesystem::exists(dir / "imatrix.gguf"));
  std::filesystem::remove(source);  // from here on only the run folder's copy exists
  const exporters::LlamaExport run = restore_language_model(dir);
  EXPECT_EQ(run.ggml_importance.size(), 14u);  // every projection; token_embd and output have no entry
  EXPECT_EQ(run.ggml_importance.count("model.embed_tokens.weight"), 0u);
  const std::map<std::string, uint32_t> types = expect_zero_gap(config, dir, "");
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), gg::kGgmlQ3_K);
  // The importance changes the codes: unweighted Q3_K of the same latent weight differs.
  const autograd::Tensor latent = run.model->state_dict().at("model.layers.0.self_attn.q_proj.weight");
  const auto& q3 = fakequant::ggml::block_type(gg::kGgmlQ3_K);
  const std::vector<float>& importance = run.ggml_importance.at("model.layers.0.self_attn.q_proj.weight");
  const autograd::Variable x(latent, false);
  const autograd::Tensor weighted = fakequant::fake_quant_ggml(x, q3, "test", importance.data()).data();
  const autograd::Tensor plain = fakequant::fake_quant_ggml(x, q3, "test").data();
  int64_t differ = 0;
  for (int64_t i = 0; i < plain.numel(); ++i) differ += weighted.data()[i] != plain.data()[i];
  EXPECT_GT(differ, plain.numel() / 20) << "importance should move a good share of the Q3_K values";
  std::printf("importance-weighted Q3_K differs from unweighted in %lld of %lld values\n", static_cast<long long>(differ),
              static_cast<long long>(plain.numel()));
  // Resuming reads the copy too (the source is gone): 2 more steps.
  config.mutable_trainer()->set_steps(5);
  EXPECT_EQ(train(config, TrainOptions{dir, false, 0}).step, 5);
  expect_zero_gap(config, dir, "");
}

// IQ2_XS, which encodes only with an importance matrix: refused without quantization.imatrix (above),
// trained with one, and its file is the trained forward.
TEST(GgufQat, Iq2XsPresetTrainsWithAnImatrix) {
  config::RunConfig config = preset_run("IQ2_XS");
  config.mutable_quantization()->set_imatrix(write_test_imatrix("importance_iq2_xs.gguf").string());
  config.mutable_trainer()->set_steps(1);
  const auto dir = temp_path("run_iq2_xs");
  ASSERT_EQ(train(config, TrainOptions{dir, true, 0}).step, 1);
  const std::map<std::string, uint32_t> types = expect_zero_gap(config, dir, "");
  EXPECT_EQ(types.at("blk.0.attn_q.weight"), gg::kGgmlIQ2_XS);
  EXPECT_EQ(types.at("blk.1.ffn_up.weight"), gg::kGgmlIQ2_XS);
}

// dim 256 without GQA, tied embedding; ffn 272 (272 % 32 != 0) sends ffn_down down its fallbacks to F16.
layers::LlamaConfig tied_preset_config() {
  layers::LlamaConfig c = testing::tiny_llama_shape({.hidden = 256, .heads = 2, .kv_heads = 2, .ffn = 272, .context = 8});
  c.tie_word_embeddings = true;
  return c;
}

// The type the preset (after `earlier` rules) gives each layer, by pattern.
std::map<std::string, int> preset_types(const layers::LlamaForCausalLM& model, const std::string& preset,
                                        const std::vector<fakequant::QuantRule>& earlier = {}) {
  std::map<std::string, int> by_layer;
  for (const auto& rule : gguf_preset_rules(model, preset, earlier)) by_layer[rule.pattern] = rule.weight->ggml_type;
  return by_layer;
}

TEST(GgufQat, PresetFollowsTheMixWithFallbacksAndTiedEmbedding) {
  const layers::LlamaForCausalLM model(tied_preset_config());
  std::vector<fakequant::QuantRule> earlier = {{"*.o_proj", std::nullopt, std::nullopt, true}};
  const std::map<std::string, int> by_layer = preset_types(model, "q4_k_m", earlier);
  EXPECT_EQ(by_layer.size(), 1u + 2u * 6u);  // embedding + 7 projections per layer - o_proj (skipped earlier)
  EXPECT_EQ(by_layer.at("model.embed_tokens"), gg::kGgmlQ6_K);  // tied: it is the output too
  EXPECT_EQ(by_layer.at("model.layers.0.mlp.down_proj"), gg::kGgmlF16);  // Q4_K -> Q5_0 -> F16 (272 % 32 != 0)
  EXPECT_EQ(by_layer.at("model.layers.1.mlp.down_proj"), gg::kGgmlF16);  // Q6_K -> Q8_0 -> F16
  EXPECT_EQ(by_layer.at("model.layers.0.mlp.up_proj"), gg::kGgmlQ4_K);
  EXPECT_EQ(by_layer.count("model.layers.0.self_attn.o_proj"), 0u);
  EXPECT_THAT(testing::error_of([&] { gguf_preset_rules(model, "Q3_K"); }), HasSubstr("quantization.preset"));
  EXPECT_THAT(testing::error_of([&] { gguf_preset_rules(model, "F32"); }), HasSubstr("quantizes nothing"));
}

// The IQ/TQ presets read the same mix table (docs/gguf.md §7); the same tied model without GQA.
TEST(GgufQat, IQPresetsFollowTheMixAndRefuseTypesThatNeedImportance) {
  const layers::LlamaForCausalLM model(tied_preset_config());
  const std::map<std::string, int> xxs = preset_types(model, "IQ3_XXS");
  EXPECT_EQ(xxs.at("model.embed_tokens"), gg::kGgmlQ5_K);            // tied: the output's Q5_K
  EXPECT_EQ(xxs.at("model.layers.0.self_attn.q_proj"), gg::kGgmlIQ2_S);
  EXPECT_EQ(xxs.at("model.layers.1.self_attn.k_proj"), gg::kGgmlIQ2_S);
  EXPECT_EQ(xxs.at("model.layers.0.self_attn.v_proj"), gg::kGgmlIQ3_S);  // no GQA, no imatrix
  EXPECT_EQ(xxs.at("model.layers.0.self_attn.o_proj"), gg::kGgmlIQ3_S);
  EXPECT_EQ(xxs.at("model.layers.0.mlp.gate_proj"), gg::kGgmlIQ3_XXS);
  EXPECT_EQ(xxs.at("model.layers.0.mlp.down_proj"), gg::kGgmlF16);       // Q3_K -> Q4_0 -> F16 (272)
  const std::map<std::string, int> xs = preset_types(model, "iq3_xs");
  EXPECT_EQ(xs.at("model.layers.0.self_attn.q_proj"), gg::kGgmlIQ3_XXS);
  EXPECT_EQ(xs.at("model.layers.0.mlp.up_proj"), gg::kGgmlIQ3_XXS);    // 2/8 <= 0 < 7*2/8
  EXPECT_EQ(xs.at("model.layers.1.mlp.up_proj"), gg::kGgmlIQ3_S);
  EXPECT_EQ(xs.at("model.embed_tokens"), gg::kGgmlQ6_K);
  const std::map<std::string, int> tq = preset_types(model, "TQ2_0");
  EXPECT_EQ(tq.at("model.layers.1.mlp.gate_proj"), gg::kGgmlTQ2_0);
  EXPECT_EQ(tq.at("model.layers.1.mlp.down_proj"), gg::kGgmlF16);        // TQ2_0 -> Q4_0 -> F16 (272)
  // IQ2_XS: its mix gives the projections IQ2_XS, which encodes only with an importance matrix.
  EXPECT_THAT(testing::error_of([&] { gguf_preset_rules(model, "IQ2_XS"); }),
              HasSubstr("quantization.preset: IQ2_XS gives model.layers.0.mlp.gate_proj.weight the type IQ2_XS, "
                        "which needs an importance matrix"));
  EXPECT_THAT(testing::error_of([&] { gguf_preset_rules(model, "IQ1_M"); }),
              HasSubstr("model.layers.0.self_attn.o_proj.weight the type IQ2_XXS"));  // IQ1_M itself needs none
  // Layers an earlier rule takes are not the preset's: IQ1_S with every projection taken trains only
  // the embedding (tied: Q5_K).
  const std::vector<fakequant::QuantRule> earlier = {{"*_proj", std::nullopt, std::nullopt, true}};
  const std::map<std::string, int> s = preset_types(model, "IQ1_S", earlier);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.at("model.embed_tokens"), gg::kGgmlQ5_K);
}

}  // namespace
}  // namespace qforge::trainers
