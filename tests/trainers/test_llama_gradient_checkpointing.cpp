// model.llama.gradient_checkpointing in a run config reaches layers::LlamaConfig (so every
// training run can turn on activation checkpointing), and defaults to off.
#include <gtest/gtest.h>

#include "trainers/language_model_setup.h"
#include "trainers/run_config.h"

namespace qforge::trainers {
namespace {

constexpr const char* kModel = R"(model { llama { hidden_size: 16 num_hidden_layers: 1 num_attention_heads: 2
                                  intermediate_size: 24 max_position_embeddings: 8 %s } })";

layers::LlamaConfig converted(const std::string& extra) {
  char text[512];
  std::snprintf(text, sizeof text, kModel, extra.c_str());
  const config::RunConfig run = parse_run_config(text, "checkpointing.pbtxt");
  return llama_config(run.model().llama(), 20, 1);
}

TEST(LlamaGradientCheckpointingConfig, FieldReachesLlamaConfig) {
  EXPECT_FALSE(converted("").gradient_checkpointing);
  EXPECT_TRUE(converted("gradient_checkpointing: true").gradient_checkpointing);
}

}  // namespace
}  // namespace qforge::trainers
