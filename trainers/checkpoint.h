#pragma once
// Training checkpoints (Boost.Serialization, binary archive): everything needed to resume a run
// bit-identically. Written with io::write_file_atomically, so a kill at any moment leaves the previous
// checkpoint.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace qforge::trainers {

using NamedTensors = std::vector<std::pair<std::string, autograd::Tensor>>;

struct Checkpoint {
  int64_t step = 0;
  std::string config_text;  // the run's config, protobuf text format
  NamedTensors model;       // state dict, Hugging Face names
  NamedTensors optimizer;   // optimizer state (moments), names from the optimizer
  std::vector<std::pair<std::string, int64_t>> counters;  // step counts, epoch, batch cursor...
  // Text state: data-generator positions, the tokenizer vocabulary, the logging window...
  std::vector<std::pair<std::string, std::string>> metadata;
};

inline constexpr const char* kCheckpointFile = "checkpoint.bin";

// Writes dir/checkpoint.bin atomically (creates dir). Throws std::runtime_error naming the path.
void save_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint);
// Reads dir/checkpoint.bin; a missing, truncated or foreign file throws naming the path.
Checkpoint load_checkpoint(const std::filesystem::path& dir);

}  // namespace qforge::trainers
