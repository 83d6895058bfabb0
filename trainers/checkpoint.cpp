#include "trainers/checkpoint.h"

#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/array_wrapper.hpp>
#include <boost/serialization/collection_size_type.hpp>
#include <boost/serialization/split_member.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <charconv>
#include <cstdio>
#include <optional>
#include <string_view>
#include <fstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/read_error.h"
#include "fakequant/quantizer.h"
#include "trainers/bounded_iarchive.h"
#include "trainers/quantization_setup.h"

namespace qforge::trainers {

namespace {

constexpr uint32_t kMagic = 0x51464350;  // "QFCP"
// 1: no buffers (quantizer counters were a float parameter); 2: int64 buffers after the metadata;
// 3: the optimizer state last, so readers that do not resume training stop before it (a float
// run's Adam moments are twice its weights: post-training quantization of a 150M model would read
// 1.2 GB it never uses).
constexpr uint32_t kFormatVersion = 3;

// Tensors travel as (dims, raw float bytes); the archive stores them in native byte order, which
// is little-endian on every machine qforge builds for.
struct TensorRecord {
  std::vector<int64_t> dims;
  std::vector<float> values;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & dims & values;
  }
};

// What a TensorRecord writes, read straight from the tensor: dims, then the values as boost writes a
// std::vector<float> (object_serializable: its count, then the raw array), so a save copies no weights
// (a 150M-parameter float run's save held 0.6 GB of copies; tests/trainers/test_checkpoint_format1.cpp
// checks the bytes equal the TensorRecord writer's).
struct TensorView {
  autograd::Tensor tensor;
  template <class Archive>
  void save(Archive& archive, unsigned /*version*/) const {
    const std::vector<int64_t> dims = tensor.shape().to_vector();
    archive << dims;
    const boost::serialization::collection_size_type count(static_cast<size_t>(tensor.numel()));
    archive << count;
    if (count > 0) archive << boost::serialization::make_array<const float, boost::serialization::collection_size_type>(tensor.data(), count);
  }
  template <class Archive>
  void load(Archive& /*archive*/, unsigned /*version*/) {
    throw std::logic_error("checkpoint: TensorView is write-only");
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()
};

}  // namespace

// A record is at least its two counts (dims, values): bounds how many a count of records may claim.
template <>
struct MinArchivedBytes<TensorRecord> {
  static constexpr size_t value = 8;
};

namespace {

std::vector<std::pair<std::string, TensorView>> views_of(const NamedTensors& tensors) {
  std::vector<std::pair<std::string, TensorView>> views;
  for (const auto& [name, t] : tensors) views.push_back({name, {t}});
  return views;
}

// Consumes the records one by one, so the file's floats are held twice for one tensor at most.
NamedTensors from_records(std::vector<std::pair<std::string, TensorRecord>>&& records) {
  NamedTensors tensors;
  for (auto& [name, r] : records) {
    tensors.emplace_back(name, autograd::Tensor::from_vector(autograd::Shape(r.dims), r.values));
    std::vector<float>().swap(r.values);
  }
  records.clear();
  return tensors;
}

}  // namespace

// Reading checkpoints of earlier formats. Format 1 kept each quantizer's counters
// [initialized, steps, frozen] in a float32 parameter "<quantizer>.state", where a step count is
// exact only up to 2^24; format 2 keeps them in the int64 buffer "<quantizer>.counters"
// (fakequant/quantizer.h). "state" is no longer a parameter, so the optimizer's quantizer group
// (group 1, optimizer_factory.cpp: the quantizer parameters in model order) has fewer members and
// its entries are renumbered too.

namespace {

constexpr std::string_view kQuantizerGroup = "group1.param";

bool is_legacy_state(const std::string& name) {
  const std::string suffix = std::string("_quantizer.") + fakequant::kLegacyQuantizerState;
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// For each group-1 index of format 1, its index in format 2, or -1 for a dropped "state".
std::vector<int64_t> quantizer_group_renumbering(const NamedTensors& model) {
  std::vector<int64_t> renumbered;
  int64_t next = 0;
  for (const auto& [name, tensor] : model) {
    if (is_quantizer_parameter(name)) renumbered.push_back(is_legacy_state(name) ? -1 : next++);
  }
  return renumbered;
}

// "group1.param<p>.<slot>" with p renumbered; nullopt drops the entry. Keys it cannot read pass
// unchanged, for Optimizer::load_state to report.
std::optional<std::string> renumbered_key(const std::string& key, const std::vector<int64_t>& renumbering) {
  if (key.compare(0, kQuantizerGroup.size(), kQuantizerGroup) != 0) return key;
  const char* begin = key.data() + kQuantizerGroup.size();
  size_t index = 0;
  const auto [end, error] = std::from_chars(begin, key.data() + key.size(), index);
  if (error != std::errc() || end == begin || index >= renumbering.size()) return key;
  if (renumbering[index] < 0) return std::nullopt;
  return std::string(kQuantizerGroup) + std::to_string(renumbering[index]) + std::string(end);
}

template <class Entries>
void renumber(Entries& entries, const std::vector<int64_t>& renumbering) {
  Entries kept;
  for (auto& [key, value] : entries) {
    if (auto renamed = renumbered_key(key, renumbering)) kept.emplace_back(std::move(*renamed), std::move(value));
  }
  entries = std::move(kept);
}

// Rewrites a format-1 checkpoint in place into format 2: every "..._quantizer.state" model tensor
// becomes a "..._quantizer.counters" buffer, and the "group1.param<p>..." optimizer tensors and counts
// get the index they have without the "state" parameters (which never had optimizer state: they
// took no gradient). Throws std::invalid_argument naming the tensor for a malformed legacy state.
void upgrade_from_format_1(Checkpoint& c) {
  const std::vector<int64_t> renumbering = quantizer_group_renumbering(c.model);
  NamedTensors parameters;
  bool upgraded = false;
  for (auto& [name, tensor] : c.model) {
    if (!is_legacy_state(name)) {
      parameters.emplace_back(std::move(name), std::move(tensor));
      continue;
    }
    const std::string quantizer = name.substr(0, name.size() - std::string_view(fakequant::kLegacyQuantizerState).size());
    c.buffers.emplace_back(quantizer + fakequant::kQuantizerCounters, fakequant::counters_from_legacy_state(tensor, name));
    upgraded = true;
  }
  c.model = std::move(parameters);
  if (!upgraded) return;
  renumber(c.optimizer, renumbering);
  renumber(c.counters, renumbering);
}

}  // namespace

void save_checkpoint(const std::filesystem::path& dir, const Checkpoint& c) {
  std::filesystem::create_directories(dir);
  io::write_file_atomically(dir / kCheckpointFile, [&](std::ostream& out) {
    boost::archive::binary_oarchive archive(out);
    const auto model = views_of(c.model), optimizer = views_of(c.optimizer);
    archive << kMagic << kFormatVersion << c.step << c.config_text << model << c.counters << c.metadata << c.buffers
            << optimizer;
  });
}

namespace {

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

// Reads one part of the checkpoint under its name, so an error says which part (and entry) it is in.
template <class T>
void read_part(BoundedBinaryIArchive& archive, const char* field, T& value) {
  archive.begin_field(field);
  try {
    archive >> value;
  } catch (const boost::archive::archive_exception& e) {
    archive.fail_boost(e);
  }
}

}  // namespace

Checkpoint load_checkpoint(const std::filesystem::path& dir, CheckpointParts parts) {
  const std::filesystem::path path = dir / kCheckpointFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": no checkpoint here");
  Checkpoint c;
  try {
    // Every length and count in the file is checked against its size before anything is allocated.
    BoundedBinaryIArchive archive(in, std::filesystem::file_size(path), path.string());
    uint32_t magic = 0, version = 0;
    read_part(archive, "magic", magic);
    if (magic != kMagic)
      archive.fail_at(archive.field_start(), hex(magic) + " is not a qforge checkpoint's (" + hex(kMagic) + ", \"QFCP\")");
    read_part(archive, "format version", version);
    if (version < 1 || version > kFormatVersion) {
      archive.fail_at(archive.field_start(), std::to_string(version) + ", this build reads 1 to " +
                                                 std::to_string(kFormatVersion));
    }
    std::vector<std::pair<std::string, TensorRecord>> model, optimizer;
    read_part(archive, "step", c.step);
    read_part(archive, "config_text", c.config_text);
    read_part(archive, "model", model);
    if (version < 3) read_part(archive, "optimizer", optimizer);
    read_part(archive, "counters", c.counters);
    read_part(archive, "metadata", c.metadata);
    if (version >= 2) read_part(archive, "buffers", c.buffers);
    c.model = from_records(std::move(model));
    if (version >= 3 && parts == CheckpointParts::kAll) read_part(archive, "optimizer", optimizer);
    if (parts == CheckpointParts::kAll) c.optimizer = from_records(std::move(optimizer));
    if (version == 1) upgrade_from_format_1(c);
  } catch (const io::ReadError&) {
    throw;  // names the file, the part and the byte already
  } catch (const std::exception& e) {
    throw std::runtime_error(path.string() + ": unreadable checkpoint: " + e.what());
  }
  return c;
}

const std::string& metadata_value(const StringPairs& pairs, const std::string& key, const std::string& source) {
  for (const auto& [k, v] : pairs)
    if (k == key) return v;
  throw std::runtime_error(source + ": checkpoint metadata has no '" + key + "'");
}

}  // namespace qforge::trainers
