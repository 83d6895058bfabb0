// Test tool of fused_qkv.sh (docs/gguf.md §3): two random tiny models as F32 GGUF files, which fuse_qkv.py then
// fuses as llama.cpp's converter would:
//   OUT_DIR/llama.gguf  arch llama (q/k rows rope-permuted), no biases
//   OUT_DIR/qwen2.gguf  arch qwen2, random q/k/v biases
// Rows of 256 (Q4_K_M keeps its K types), GQA 2 (q has more rows than k and v), weights N(0, 0.1): sharp enough
// that a wrong row order shows in the probabilities.
// usage: fused_qkv_llama OUT_DIR
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "exporters/gguf/llama_gguf_export.h"
#include "layers/llama.h"

namespace {

void write(const std::filesystem::path& path, bool qkv_bias, const std::vector<std::string>& vocabulary) {
  qforge::layers::LlamaConfig c;
  c.vocab_size = static_cast<int64_t>(vocabulary.size());
  c.hidden_size = 256;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 256;
  c.max_position_embeddings = 128;
  c.qkv_bias = qkv_bias;
  c.initializer_range = 0.1f;
  c.seed = qkv_bias ? 12 : 11;
  const qforge::layers::LlamaForCausalLM model(c);
  uint32_t state = 2024;
  for (auto& [name, value] : model.state_dict()) {
    qforge::autograd::Tensor t = value;  // a handle: writes reach the parameter
    if (name.find(".bias") == std::string::npos) continue;
    for (int64_t i = 0; i < t.numel(); ++i) {
      state = state * 1664525u + 1013904223u;
      t.data()[i] = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
  }
  qforge::exporters::gguf::write_llama_gguf(path, model, vocabulary, qforge::exporters::gguf::LlamaFileType::kF32,
                                            qkv_bias ? "fused-qwen2" : "fused-llama");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fused_qkv_llama OUT_DIR\n");
    return 2;
  }
  std::vector<std::string> vocabulary;
  // The printable ASCII characters in code order: the character tokenizer a qlora run builds from a corpus
  // that uses them all (fused_qkv.sh).
  for (int ch = 32; ch < 127; ++ch) vocabulary.emplace_back(1, static_cast<char>(ch));
  try {
    const std::filesystem::path out(argv[1]);
    write(out / "llama.gguf", false, vocabulary);
    write(out / "qwen2.gguf", true, vocabulary);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fused_qkv_llama: %s\n", e.what());
    return 1;
  }
  return 0;
}
