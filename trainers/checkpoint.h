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
using StringPairs = std::vector<std::pair<std::string, std::string>>;
using NamedBuffers = std::vector<std::pair<std::string, std::vector<int64_t>>>;

struct Checkpoint {
  int64_t step = 0;
  std::string config_text;  // the run's config, protobuf text format
  NamedTensors model;       // parameters, Hugging Face names
  NamedBuffers buffers;     // the model's int64 buffers (layers::Module::named_buffers), same names
  NamedTensors optimizer;   // optimizer state (moments), names from the optimizer
  std::vector<std::pair<std::string, int64_t>> counters;  // step counts, epoch, batch cursor...
  // Text state: data-generator positions, the tokenizer vocabulary, the logging window...
  StringPairs metadata;
};

inline constexpr const char* kCheckpointFile = "checkpoint.bin";

// Writes dir/checkpoint.bin with io::write_file_atomically (creates dir). Throws std::runtime_error naming
// the path.
void save_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint);
// Reads dir/checkpoint.bin; a missing, truncated or foreign file throws naming the path.
// Format 2 added `buffers`, format 3 moved the optimizer state last. Format 1 files still load: their
// quantizers' float "state" parameters become "counters" buffers (checkpoint.cpp upgrade_from_format_1).
// kWithoutOptimizer leaves `optimizer` empty and, for format 3, stops reading before it: what every
// reader but a resuming trainer wants.
enum class CheckpointParts { kAll, kWithoutOptimizer };
Checkpoint load_checkpoint(const std::filesystem::path& dir, CheckpointParts parts = CheckpointParts::kAll);

// The value of `key` in checkpoint metadata (or a task's saved state); throws std::runtime_error
// "<source>: checkpoint metadata has no '<key>'" when it is absent. The one lookup of saved text state.
const std::string& metadata_value(const StringPairs& pairs, const std::string& key, const std::string& source);

}  // namespace qforge::trainers
