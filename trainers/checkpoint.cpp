#include "trainers/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <fstream>
#include <stdexcept>

namespace qforge::trainers {

namespace {

constexpr uint32_t kMagic = 0x51464350;  // "QFCP"
constexpr uint32_t kFormatVersion = 1;

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

void sync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw std::runtime_error(path.string() + ": cannot open to sync");
  const int status = ::fsync(fd);
  ::close(fd);
  if (status != 0) throw std::runtime_error(path.string() + ": fsync failed");
}

}  // namespace

void save_checkpoint(const std::filesystem::path& dir, const Checkpoint& c) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path final_path = dir / kCheckpointFile;
  const std::filesystem::path temp_path = dir / (std::string(kCheckpointFile) + ".tmp");
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(temp_path.string() + ": cannot write checkpoint");
    boost::archive::binary_oarchive archive(out);
    const auto model = to_records(c.model), optimizer = to_records(c.optimizer);
    archive << kMagic << kFormatVersion << c.step << c.config_text << model << optimizer << c.counters << c.metadata;
    out.flush();
    if (!out) throw std::runtime_error(temp_path.string() + ": write failed (disk full?)");
  }
  sync_path(temp_path, O_RDONLY);
  std::filesystem::rename(temp_path, final_path);  // atomic on POSIX within one file system
  sync_path(dir, O_RDONLY | O_DIRECTORY);
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
    if (version != kFormatVersion) {
      throw std::runtime_error("format version " + std::to_string(version) + ", this build reads " +
                               std::to_string(kFormatVersion));
    }
    std::vector<std::pair<std::string, TensorRecord>> model, optimizer;
    archive >> c.step >> c.config_text >> model >> optimizer >> c.counters >> c.metadata;
    c.model = from_records(model);
    c.optimizer = from_records(optimizer);
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
