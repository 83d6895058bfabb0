// Test tool (built only for the llamacpp ctest, not a qforge command): a random LoRA adapter with
// nonzero B for every attention and MLP projection of a Llama GGUF base, written both as a llama.cpp
// adapter GGUF and as a PEFT directory, so lora_agreement.py can check llama.cpp against qforge.
//   random_lora BASE.gguf R ALPHA SEED OUT.gguf OUT_PEFT_DIR
#include <cstdio>
#include <exception>
#include <string>

#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"

namespace lo = qforge::exporters::lora;

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: random_lora BASE.gguf R ALPHA SEED OUT.gguf OUT_PEFT_DIR\n");
    return 2;
  }
  try {
    const auto base = qforge::exporters::gguf::read_llama_gguf(std::filesystem::path(argv[1]));
    lo::LoraAdapterConfig config;
    config.r = std::stoll(argv[2]);
    config.lora_alpha = std::stod(argv[3]);
    config.base_model_name_or_path = argv[1];
    uint64_t seed = std::stoull(argv[4]);
    qforge::exporters::NamedTensors lora;
    for (const auto& [name, p] : base.model->named_parameters()) {
      const std::string suffix = "_proj.weight";
      if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const std::string module = name.substr(0, name.size() - 7);
      const int64_t out = p.data().shape()[0], in = p.data().shape()[1];
      // Small random A and B: B A · alpha / r is of the order of the trained weights, so the adapter
      // moves the distributions visibly (lora_agreement.py checks that it does).
      lora.emplace(module + lo::kLoraASuffix, qforge::autograd::Tensor::randn({config.r, in}, seed++, 0.1f));
      lora.emplace(module + lo::kLoraBSuffix, qforge::autograd::Tensor::randn({out, config.r}, seed++, 0.1f));
    }
    lo::write_gguf_lora_adapter(argv[5], lora, config, base.model->config());
    lo::save_peft_adapter(argv[6], lora, config);
    std::printf("random_lora: %zu tensors, r %lld, alpha %g\n", lora.size(), static_cast<long long>(config.r), config.lora_alpha);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "random_lora: %s\n", e.what());
    return 1;
  }
  return 0;
}
