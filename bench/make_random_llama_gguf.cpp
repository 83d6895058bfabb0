// Writes an F32 llama GGUF with random weights (HF init: N(0, 0.02)) for bench/gguf_quantize.py:
// the common input of `qforge quantize-gguf` and llama.cpp's llama-quantize. The vocabulary is the
// printable ASCII characters, '\n' and filler tokens, so llama-imatrix can run the model on text.
// usage: make_random_llama_gguf OUT.gguf [layers hidden ffn heads kv_heads vocab seed tied]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "exporters/gguf/llama_gguf_export.h"
#include "layers/llama.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s OUT.gguf [layers hidden ffn heads kv_heads vocab seed tied]\n", argv[0]);
    return 2;
  }
  auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
  qforge::layers::LlamaConfig config;
  config.num_hidden_layers = arg(2, 15);
  config.hidden_size = arg(3, 768);
  config.intermediate_size = arg(4, 2048);
  config.num_attention_heads = arg(5, 12);
  config.num_key_value_heads = arg(6, 4);
  config.vocab_size = arg(7, 4000);
  config.seed = static_cast<uint64_t>(arg(8, 1));
  config.tie_word_embeddings = arg(9, 0) != 0;
  config.max_position_embeddings = 512;
  std::vector<std::string> vocabulary;
  for (int c = 32; c < 127; ++c) vocabulary.emplace_back(1, static_cast<char>(c));
  vocabulary.emplace_back("\n");
  while (static_cast<int64_t>(vocabulary.size()) < config.vocab_size)
    vocabulary.push_back("<filler" + std::to_string(vocabulary.size()) + ">");
  vocabulary.resize(static_cast<size_t>(config.vocab_size));
  try {
    const qforge::layers::LlamaForCausalLM model(config);
    qforge::exporters::gguf::write_llama_gguf(argv[1], model, vocabulary, qforge::exporters::gguf::LlamaFileType::kF32,
                                              "random-llama");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_random_llama_gguf: %s\n", e.what());
    return 1;
  }
  return 0;
}
