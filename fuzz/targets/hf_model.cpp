// A Hugging Face model folder (exporters/hf/hf_model_reader.h read_hf_model, what `--hf DIR` opens):
// config.json, then model.safetensors or the shards that model.safetensors.index.json names, every
// header checked against config.json before the model is built and filled.
// Input: config.json, the index, shard 1, shard 2 joined by fuzz_support.h's kFileSeparator. An empty
// index part means no index file: shard 1 is then model.safetensors.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporters/hf/hf_model_reader.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = qforge::fuzz;
  const auto parts = fz::split_files({data, size}, 4);
  const std::string shard1 = "model-00001-of-00002.safetensors", shard2 = "model-00002-of-00002.safetensors";
  for (const char* name : {"config.json", "model.safetensors", "model.safetensors.index.json"}) fz::remove_scratch(std::string("hf/") + name);
  fz::remove_scratch("hf/" + shard1);
  fz::remove_scratch("hf/" + shard2);
  fz::write_scratch("hf/config.json", parts[0]);
  if (parts[1].empty()) {
    fz::write_scratch("hf/model.safetensors", parts[2]);
  } else {
    fz::write_scratch("hf/model.safetensors.index.json", parts[1]);
    fz::write_scratch("hf/" + shard1, parts[2]);
    fz::write_scratch("hf/" + shard2, parts[3]);
  }
  const auto dir = fz::scratch_dir() / "hf";
  fz::expect_clean(dir.string(), [&] { qforge::exporters::hf::read_hf_model(dir); });
  return 0;
}
