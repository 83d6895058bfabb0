// A PEFT LoRA adapter folder (exporters/lora/peft_adapter.h load_peft_adapter, `--lora DIR`):
// adapter_config.json and adapter_model.safetensors, joined in the input by fuzz_support.h's
// kFileSeparator.
#include <cstddef>
#include <cstdint>

#include "exporters/lora/peft_adapter.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = qforge::fuzz;
  namespace lora = qforge::exporters::lora;
  const auto parts = fz::split_files({data, size}, 2);
  fz::write_scratch(std::string("peft/") + lora::kPeftConfigFile, parts[0]);
  fz::write_scratch(std::string("peft/") + lora::kPeftWeightsFile, parts[1]);
  const auto dir = fz::scratch_dir() / "peft";
  fz::expect_clean(dir.string(), [&] { lora::load_peft_adapter(dir); });
  return 0;
}
