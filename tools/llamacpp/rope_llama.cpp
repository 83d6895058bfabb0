// Test tool of rope_scaling.sh (docs/gguf.md §15): one random tiny Llama written as three F32 GGUF files that
// differ only in their rope scaling:
//   OUT_DIR/llama3.gguf    HF "llama3" rope_scaling (factor 8, original context 64): rope_freqs.weight
//   OUT_DIR/linear.gguf    HF "linear" (factor 4): llama.rope.scaling.type / .factor
//   OUT_DIR/unscaled.gguf  none: the control, which llama.cpp must not agree with beyond the original context
//   OUT_DIR/llama3-hf/     the llama3 model as a Hugging Face folder (config.json rope_scaling, no tokenizer):
//                          `qforge probs --hf` runs HF's llama3 frequencies, not the file's float32 divisors
// usage: rope_llama OUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/hf/hf_exporter.h"
#include "exporters/model_export.h"
#include "layers/llama.h"

namespace {

namespace gg = qforge::exporters::gguf;
using qforge::layers::RopeScaling;

std::shared_ptr<qforge::layers::LlamaForCausalLM> with_scaling(const qforge::layers::LlamaForCausalLM& weights,
                                                               const RopeScaling& scaling) {
  qforge::layers::LlamaConfig c = weights.config();
  c.rope_scaling = scaling;
  auto model = std::make_shared<qforge::layers::LlamaForCausalLM>(c);
  model->load_state_dict(weights.state_dict(), /*strict=*/true);
  return model;
}

void write(const std::filesystem::path& path, const qforge::layers::LlamaForCausalLM& weights, const RopeScaling& scaling,
           const std::vector<std::string>& vocabulary) {
  gg::write_llama_gguf(path, *with_scaling(weights, scaling), vocabulary, gg::LlamaFileType::kF32, "rope-llama");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: rope_llama OUT_DIR\n");
    return 2;
  }
  qforge::layers::LlamaConfig c;
  c.vocab_size = 96;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;  // head_dim 16: 8 frequencies, 1 kept, 2 blended, 5 divided by llama3 below
  c.num_key_value_heads = 2;
  c.intermediate_size = 128;
  c.max_position_embeddings = 256;
  c.initializer_range = 0.2f;  // sharp enough attention that the rotation shows in the probabilities
  c.seed = 5;
  std::vector<std::string> vocabulary;
  for (int ch = 32; ch < 127; ++ch) vocabulary.emplace_back(1, static_cast<char>(ch));
  vocabulary.emplace_back("\n");
  try {
    const qforge::layers::LlamaForCausalLM weights(c);
    RopeScaling llama3;
    llama3.type = RopeScaling::Type::kLlama3;
    llama3.factor = 8.0;
    llama3.original_max_position_embeddings = 64;
    RopeScaling linear;
    linear.type = RopeScaling::Type::kLinear;
    linear.factor = 4.0;
    const std::filesystem::path out(argv[1]);
    write(out / "llama3.gguf", weights, llama3, vocabulary);
    write(out / "linear.gguf", weights, linear, vocabulary);
    write(out / "unscaled.gguf", weights, RopeScaling{}, vocabulary);
    qforge::exporters::ExportSource hf;
    hf.model = qforge::exporters::LlamaExport{};
    hf.model->model = with_scaling(weights, llama3);
    hf.model->vocabulary = vocabulary;
    hf.model->tokenizer_kind = "ids";
    qforge::exporters::hf::export_hf(hf, qforge::exporters::ExportOptions{}, out / "llama3-hf");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rope_llama: %s\n", e.what());
    return 1;
  }
  return 0;
}
