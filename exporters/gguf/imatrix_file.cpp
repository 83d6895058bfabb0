#include "exporters/gguf/imatrix_file.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <limits>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "io/atomic_file.h"
#include "io/read_error.h"

namespace qforge::exporters::gguf {

namespace {

// Key names from tools/imatrix/imatrix.cpp (LLM_KV_IMATRIX_*).
constexpr std::string_view kDatasetsKey = "imatrix.datasets";
constexpr std::string_view kChunkCountKey = "imatrix.chunk_count";
constexpr std::string_view kChunkSizeKey = "imatrix.chunk_size";
constexpr std::string_view kSum2Suffix = ".in_sum2";
constexpr std::string_view kCountsSuffix = ".counts";
constexpr std::string_view kSumSuffix = ".in_sum";

std::span<const std::byte> float_bytes(const std::vector<float>& values) {
  return std::as_bytes(std::span<const float>(values));
}

// [ne0, n_mat] with the trailing 1 dropped, as gguf.cpp writes ggml_n_dims dims.
std::vector<uint64_t> matrix_dims(uint64_t ne0, uint64_t n_mat) {
  return n_mat == 1 ? std::vector<uint64_t>{ne0} : std::vector<uint64_t>{ne0, n_mat};
}

bool remove_suffix(std::string& name, std::string_view suffix) {
  if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  name.resize(name.size() - suffix.size());
  return true;
}

std::vector<std::byte> read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("imatrix: cannot open " + path.string() + ": " + std::strerror(errno));
  const std::streamoff size = in.tellg();
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw std::runtime_error("imatrix: cannot read " + path.string());
  return bytes;
}

bool starts_with_gguf_magic(std::span<const std::byte> bytes) {
  return bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0;
}

struct TensorRef {
  const TensorInfo* info = nullptr;
  std::span<const std::byte> data;
  uint64_t at = 0;  // where its data starts in the file: the byte its errors name
};

std::vector<float> read_f32(const TensorRef& t, const std::string& source) {
  if (t.info->type != kGgmlF32) {
    io::throw_read_error("imatrix", source, "tensor '" + io::printable(t.info->name) + "'", t.at,
                         "ggml type " + std::to_string(t.info->type) + ", expected F32 (0)");
  }
  std::vector<float> values(t.data.size() / sizeof(float));
  // A tensor with a zero dimension has no data: memcpy from/to its null pointers is undefined even for 0 bytes.
  if (!values.empty()) std::memcpy(values.data(), t.data.data(), values.size() * sizeof(float));
  return values;
}

void read_imatrix_keys(const GgufFile& file, const std::string& source, Imatrix& out) {
  const auto missing = [&](std::string_view key, const char* type) {
    return std::runtime_error(io::read_error("imatrix", source, "key " + std::string(key),
                                             std::string("missing or not ") + type + " (llama-quantize requires it)"));
  };
  const Value* datasets = file.find(kDatasetsKey);
  const Array* list = datasets ? datasets->get_if<Array>() : nullptr;
  if (!list || list->element_type != ValueType::kString) throw missing(kDatasetsKey, "a string array");
  for (const Value& v : list->elements) out.datasets.push_back(v.get<std::string>());
  const Value* count = file.find(kChunkCountKey);
  if (!count || !count->get_if<uint32_t>()) throw missing(kChunkCountKey, "a u32");
  out.chunk_count = count->get<uint32_t>();
  const Value* size = file.find(kChunkSizeKey);
  if (!size || !size->get_if<uint32_t>()) throw missing(kChunkSizeKey, "a u32");
  out.chunk_size = size->get<uint32_t>();
}

ImatrixEntry assemble_entry(const std::string& name, const TensorRef& sum2, const TensorRef& counts, const TensorRef& sum,
                            const std::string& source) {
  const auto fail = [&](const std::string& what) {  // at the data of whichever tensor of the entry exists
    const uint64_t at = sum2.info ? sum2.at : counts.info ? counts.at : sum.at;
    return std::runtime_error(io::read_error("imatrix", source, "entry '" + io::printable(name) + "'", at, what));
  };
  if (!sum2.info || !counts.info) throw fail("mismatched sums and counts (needs both .in_sum2 and .counts)");
  const std::vector<uint64_t>& dims = sum2.info->dims;
  if (dims.size() > 2) throw fail(".in_sum2 has " + std::to_string(dims.size()) + " dims, expected [ne0, n_mat]");
  const uint64_t n_mat = dims.size() == 2 ? dims[1] : 1;
  ImatrixEntry entry;
  entry.in_sum2 = read_f32(sum2, source);
  entry.counts = read_f32(counts, source);
  if (entry.counts.size() != n_mat) {
    throw fail(".counts has " + std::to_string(entry.counts.size()) + " values, expected n_mat = " + std::to_string(n_mat));
  }
  if (sum.info) {
    entry.in_sum = read_f32(sum, source);
    if (entry.in_sum.size() != entry.in_sum2.size()) throw fail(".in_sum and .in_sum2 differ in size");
  }
  return entry;
}

}  // namespace

void validate_imatrix_entry(const std::string& name, const ImatrixEntry& e) {
  const auto fail = [&](const std::string& what) { return std::invalid_argument("imatrix entry '" + name + "': " + what); };
  if (name.empty()) throw std::invalid_argument("imatrix: an entry has an empty name");
  if (e.counts.empty()) throw fail("no counts");
  if (e.in_sum2.empty() || e.in_sum2.size() % e.counts.size() != 0) {
    throw fail("in_sum2 has " + std::to_string(e.in_sum2.size()) + " values, not a positive multiple of n_mat " +
               std::to_string(e.counts.size()));
  }
  if (!e.in_sum.empty() && e.in_sum.size() != e.in_sum2.size()) throw fail("in_sum and in_sum2 differ in size");
}

std::vector<std::byte> serialize_gguf_imatrix(const Imatrix& imatrix) {
  GgufFile file;
  file.set("general.type", Value("imatrix"));
  file.set(kDatasetsKey, Value(make_array<std::string>(imatrix.datasets)));
  file.set(kChunkCountKey, Value(imatrix.chunk_count));
  file.set(kChunkSizeKey, Value(imatrix.chunk_size));
  std::vector<std::span<const std::byte>> data;
  for (const auto& [name, e] : imatrix.entries) {  // std::map: sorted names, as llama-imatrix writes
    validate_imatrix_entry(name, e);
    const uint64_t n_mat = e.counts.size(), ne0 = e.in_sum2.size() / n_mat;
    file.tensors.push_back({name + std::string(kSum2Suffix), matrix_dims(ne0, n_mat), kGgmlF32, 0});
    data.push_back(float_bytes(e.in_sum2));
    file.tensors.push_back({name + std::string(kCountsSuffix), matrix_dims(1, n_mat), kGgmlF32, 0});
    data.push_back(float_bytes(e.counts));
    if (!e.in_sum.empty()) {
      file.tensors.push_back({name + std::string(kSumSuffix), matrix_dims(ne0, n_mat), kGgmlF32, 0});
      data.push_back(float_bytes(e.in_sum));
    }
  }
  return serialize_gguf(file, data);
}

Imatrix parse_gguf_imatrix(std::span<const std::byte> bytes, const std::string& source) {
  const ParsedGguf parsed = parse_gguf(bytes, source);  // bounds-checked: every tensor lies inside `bytes`
  Imatrix out;
  read_imatrix_keys(parsed.file, source, out);
  if (parsed.file.tensors.empty()) io::throw_read_error("imatrix", source, "tensors", parsed.data_start, "none (no data in file)");
  std::map<std::string, std::array<TensorRef, 3>> parts;  // in_sum2, counts, in_sum
  for (const TensorInfo& t : parsed.file.tensors) {
    const auto size = ggml_tensor_bytes(t.type, t.dims);
    const TensorRef ref{&t, bytes.subspan(parsed.data_start + t.offset, *size), parsed.data_start + t.offset};
    std::string name = t.name;
    if (remove_suffix(name, kSum2Suffix)) parts[name][0] = ref;
    else if (remove_suffix(name, kCountsSuffix)) parts[name][1] = ref;
    else if (remove_suffix(name, kSumSuffix)) parts[name][2] = ref;
  }
  for (const auto& [name, p] : parts) out.entries[name] = assemble_entry(name, p[0], p[1], p[2], source);
  return out;
}

std::map<std::string, std::vector<float>> gguf_imatrix_importance(const Imatrix& imatrix) {
  std::map<std::string, std::vector<float>> importance;
  for (const auto& [name, e] : imatrix.entries) {
    validate_imatrix_entry(name, e);
    const size_t n_mat = e.counts.size(), ne0 = e.in_sum2.size() / n_mat;
    std::vector<float>& values = importance[name];
    values.resize(e.in_sum2.size());
    for (size_t j = 0; j < n_mat; ++j) {
      const float count = e.counts[j];
      for (size_t i = 0; i < ne0; ++i) values[j * ne0 + i] = count > 0.0f ? e.in_sum2[j * ne0 + i] / count : 1.0f;
    }
  }
  return importance;
}

LegacyImatrix to_legacy_imatrix(const Imatrix& imatrix) {
  if (imatrix.chunk_size == 0) throw std::invalid_argument("imatrix: chunk_size 0 (the legacy ncall needs it)");
  LegacyImatrix out;
  for (const auto& [name, e] : imatrix.entries) {
    validate_imatrix_entry(name, e);
    const float max_count = *std::max_element(e.counts.begin(), e.counts.end());
    if (!(max_count > 0.0f)) continue;  // "has no data - skipping"
    const double chunks = std::ceil(static_cast<double>(max_count) / imatrix.chunk_size);  // ceiling division
    if (chunks > std::numeric_limits<int32_t>::max()) {
      throw std::invalid_argument("imatrix entry '" + name + "': " + std::to_string(chunks) + " chunks exceed the legacy int32 ncall");
    }
    LegacyImatrixEntry entry{name, static_cast<int32_t>(chunks), {}};
    const size_t per_mat = e.in_sum2.size() / e.counts.size();
    entry.values.resize(e.in_sum2.size());
    for (size_t i = 0; i < e.in_sum2.size(); ++i) {
      float count = e.counts[i / per_mat], value = e.in_sum2[i];
      if (count == 0.0f) value = count = 1.0f;  // "store 1 for partial data"
      entry.values[i] = (value / count) * static_cast<float>(entry.ncall);
    }
    out.entries.push_back(std::move(entry));
  }
  if (out.entries.empty()) throw std::invalid_argument("imatrix: no entry saw any token; nothing to write");
  out.last_call = static_cast<int32_t>(imatrix.chunk_count);
  out.dataset = imatrix.datasets.empty() ? std::string() : imatrix.datasets.back();
  return out;
}

ImatrixFormat imatrix_format_for_path(const std::filesystem::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".gguf") return ImatrixFormat::kGguf;
  if (ext == ".dat") return ImatrixFormat::kLegacy;
  throw std::invalid_argument("imatrix: " + path.string() + ": extension must be .gguf (GGUF imatrix) or .dat (legacy)");
}

namespace {

void write_bytes_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  try {
    io::write_file_atomically(path, bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("imatrix: " + std::string(e.what()));  // the message starts with the path
  }
}

}  // namespace

void write_legacy_imatrix(const std::filesystem::path& path, const LegacyImatrix& imatrix) {
  write_bytes_atomically(path, serialize_legacy_imatrix(imatrix));
}

void write_imatrix(const std::filesystem::path& path, const Imatrix& imatrix) {
  if (imatrix_format_for_path(path) == ImatrixFormat::kLegacy) return write_legacy_imatrix(path, to_legacy_imatrix(imatrix));
  write_bytes_atomically(path, serialize_gguf_imatrix(imatrix));
}

Imatrix read_gguf_imatrix(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_whole_file(path);
  return parse_gguf_imatrix(bytes, path.string());
}

LegacyImatrix read_legacy_imatrix(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_whole_file(path);
  return parse_legacy_imatrix(bytes, path.string());
}

std::map<std::string, std::vector<float>> read_imatrix(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_whole_file(path);
  if (starts_with_gguf_magic(bytes)) return gguf_imatrix_importance(parse_gguf_imatrix(bytes, path.string()));
  return legacy_imatrix_importance(parse_legacy_imatrix(bytes, path.string()));
}

std::map<std::string, std::vector<float>> read_export_importance(const std::filesystem::path& path) {
  std::map<std::string, std::vector<float>> importance = read_imatrix(path);
  for (const auto& [name, values] : importance) {
    for (size_t j = 0; j < values.size(); ++j) {
      if (!std::isfinite(values[j])) {
        throw std::invalid_argument("imatrix " + path.string() + ": entry '" + name + "' column " + std::to_string(j) +
                                    " is not finite (" + std::to_string(values[j]) + ")");
      }
    }
  }
  return importance;
}

ImatrixProvenance read_imatrix_provenance(const std::filesystem::path& path) {
  const std::vector<std::byte> bytes = read_whole_file(path);
  ImatrixProvenance record;
  if (starts_with_gguf_magic(bytes)) {
    const Imatrix imatrix = parse_gguf_imatrix(bytes, path.string());
    if (!imatrix.datasets.empty()) record.dataset = imatrix.datasets.front();
    record.chunks = imatrix.chunk_count;
  } else {
    const LegacyImatrix imatrix = parse_legacy_imatrix(bytes, path.string());
    record.dataset = imatrix.has_trailer ? imatrix.dataset : "";
    record.chunks = imatrix.has_trailer ? imatrix.last_call : 0;
  }
  return record;
}

ImatrixRecord imatrix_record(const std::string& path, size_t entries) {
  return ImatrixRecord{path, read_imatrix_provenance(path), entries};
}

void append_imatrix_record(GgufFile& file, const ImatrixRecord& record) {
  const auto append = [&](const std::string& key, Value value) {
    std::erase_if(file.metadata, [&](const KeyValue& kv) { return kv.key == key; });
    file.metadata.push_back({key, std::move(value)});
  };
  append("quantize.imatrix.file", record.file.substr(0, 127));
  if (!record.provenance.dataset.empty()) append("quantize.imatrix.dataset", record.provenance.dataset.substr(0, 127));
  append("quantize.imatrix.entries_count", static_cast<uint32_t>(record.entries));
  if (record.provenance.chunks > 0) append("quantize.imatrix.chunks_count", static_cast<uint32_t>(record.provenance.chunks));
}

}  // namespace qforge::exporters::gguf
