// A llama.cpp LoRA adapter GGUF (exporters/lora/gguf_lora_adapter.h read_gguf_lora_adapter, `--lora
// FILE`) for a small fixed base model: names, shapes and q/k row order checked against the base.
#include <cstddef>
#include <cstdint>

#include "exporters/lora/gguf_lora_adapter.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = qforge::fuzz;
  qforge::layers::LlamaConfig base;  // the base of the seeds (fuzz/make_seeds.cpp tiny_llama_config)
  base.vocab_size = 16;
  base.hidden_size = 8;
  base.num_hidden_layers = 1;
  base.num_attention_heads = 2;
  base.num_key_value_heads = 1;
  base.intermediate_size = 16;
  base.max_position_embeddings = 32;
  const auto path = fz::write_scratch("adapter.gguf", {data, size});
  fz::expect_clean(path.string(), [&] { qforge::exporters::lora::read_gguf_lora_adapter(path, base); });
  return 0;
}
