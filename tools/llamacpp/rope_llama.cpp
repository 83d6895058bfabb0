// Test tool of rope_scaling.sh (docs/gguf.md §15): one random tiny Llama written as three F32 GGUF files that
// differ only in their rope scaling:
//   OUT_DIR/llama3.gguf    HF "llama3" rope_scaling (factor 8, original context 64): rope_freqs.weight
//   OUT_DIR/linear.gguf    HF "linear" (factor 4): llama.rope.scaling.type / .factor
//   OUT_DIR/unscaled.gguf  none: the control, which llama.cpp must not agree with beyond the original context
// usage: rope_llama OUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "exporters/gguf/llama_gguf_export.h"
#include "layers/llama.h"

namespace {

namespace gg = qforge::exporters::gguf;
using qforge::layers::RopeScaling;

void write(const std::filesystem::path& path, const qforge::layers::LlamaForCausalLM& weights, const RopeScaling& scaling,
           const std::vector<std::string>& vocabulary) {
  qforge::layers::LlamaConfig c = weights.config();
  c.rope_scaling = scaling;
  qforge::layers::LlamaForCausalLM model(c);
  model.load_state_dict(weights.state_dict(), /*strict=*/true);
  gg::write_llama_gguf(path, model, vocabulary, gg::LlamaFileType::kF32, "rope-llama");
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
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rope_llama: %s\n", e.what());
    return 1;
  }
  return 0;
}
