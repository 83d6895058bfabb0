#include "trainers/checkpoint.h"

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <fstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "trainers/checkpoint_upgrade.h"

namespace qforge::trainers {

namespace {

constexpr uint32_t kMagic = 0x51464350;  // "QFCP"
// 1: no buffers (quantizer counters were a float parameter); 2: int64 buffers after the metadata.
constexpr uint32_t kFormatVersion = 2;

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

std::vector<std::pair<std::string, TensorRecord>> to_records(const NamedTensors& tensors) {
  std::vector<std::pair<std::string, TensorRecord>> records;
  for (const auto& [name, t] : tensors) records.push_back({name, {t.shape().to_vector(), t.to_vector()}});
  return records;
}

NamedTensors from_records(const std::vector<std::pair<std::string, TensorRecord>>& records) {
  NamedTensors tensors;
  for (const auto& [name, r] : records) {
    tensors.emplace_back(name, autograd::Tensor::from_vector(autograd::Shape(r.dims), r.values));
  }
  return tensors;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& dir, const Checkpoint& c) {
  std::filesystem::create_directories(dir);
  io::write_file_atomically(dir / kCheckpointFile, [&](std::ostream& out) {
    boost::archive::binary_oarchive archive(out);
    const auto model = to_records(c.model), optimizer = to_records(c.optimizer);
    archive << kMagic << kFormatVersion << c.step << c.config_text << model << optimizer << c.counters << c.metadata
            << c.buffers;
  });
}

Checkpoint load_checkpoint(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / kCheckpointFile;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": no checkpoint here");
  Checkpoint c;
  try {
    boost::archive::binary_iarchive archive(in);
    uint32_t magic = 0, version = 0;
    archive >> magic >> version;
    if (magic != kMagic) throw std::runtime_error("not a qforge checkpoint");
    if (version < 1 || version > kFormatVersion) {
      throw std::runtime_error("format version " + std::to_string(version) + ", this build reads 1 to " +
                               std::to_string(kFormatVersion));
    }
    std::vector<std::pair<std::string, TensorRecord>> model, optimizer;
    archive >> c.step >> c.config_text >> model >> optimizer >> c.counters >> c.metadata;
    if (version >= 2) archive >> c.buffers;
    c.model = from_records(model);
    c.optimizer = from_records(optimizer);
    if (version == 1) upgrade_from_format_1(c);
  } catch (const std::exception& e) {
    throw std::runtime_error(path.string() + ": unreadable checkpoint: " + e.what());
  }
  return c;
}

}  // namespace qforge::trainers
