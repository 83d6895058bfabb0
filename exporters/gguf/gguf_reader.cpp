#include "exporters/gguf/gguf_reader.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>

#include "exporters/gguf/ggml_types.h"
#include "io/read_error.h"

namespace qforge::exporters::gguf {

namespace {

static_assert(std::endian::native == std::endian::little, "gguf reader assumes a little-endian host");

// Smallest encodings, used to bound counts by the bytes left before reserving anything.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;              // key length, 1 key byte, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 4 + 8;  // name, n_dims (0: no ne), type, offset
constexpr int kMaxArrayNesting = 8;  // llama.cpp allows none; deeper nesting would only risk the stack

using io::printable;  // keys and names come from the file

uint64_t min_value_bytes(ValueType type) {
  switch (type) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: return 8;   // length only
    case ValueType::kArray: return 12;   // element type + count
  }
  return 1;
}

class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  [[noreturn]] void fail(std::string_view field, uint64_t at, const std::string& what) const {
    io::throw_read_error("gguf", source_, field, at, what);
  }
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }
  void need(uint64_t count, std::string_view field) const {
    if (count > remaining()) {
      fail(field, pos_, "needs " + std::to_string(count) + " bytes, only " + std::to_string(remaining()) + " left");
    }
  }
  template <class T> T read(std::string_view field) {
    need(sizeof(T), field);
    T x;
    std::memcpy(&x, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return x;
  }
  std::string read_string(std::string_view field) {
    const uint64_t at = pos_;
    const uint64_t length = read<uint64_t>(field);
    if (length > remaining()) {
      fail(field, at, "string length " + std::to_string(length) + " exceeds the " + std::to_string(remaining()) +
                          " bytes left");
    }
    std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return text;
  }
  // Reads a u32 value type id and checks that it is known.
  ValueType read_type(std::string_view field) {
    const uint64_t at = pos_;
    const uint32_t id = read<uint32_t>(field);
    if (id >= kValueTypeCount) fail(field, at, "unknown value type " + std::to_string(id));
    return static_cast<ValueType>(id);
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& source_;
  uint64_t pos_ = 0;
};

Value read_value(Cursor& in, ValueType type, std::string_view field, int depth);

Array read_array(Cursor& in, std::string_view field, int depth) {
  const uint64_t at = in.pos();
  if (depth >= kMaxArrayNesting) in.fail(field, at, "arrays nested deeper than " + std::to_string(kMaxArrayNesting));
  Array array;
  array.element_type = in.read_type(field);
  const uint64_t count_at = in.pos();
  const uint64_t count = in.read<uint64_t>(field);
  if (count > in.remaining() / min_value_bytes(array.element_type)) {
    in.fail(field, count_at, "array of " + std::to_string(count) + " " +
                                 std::string(value_type_name(array.element_type)) + " cannot fit in the " +
                                 std::to_string(in.remaining()) + " bytes left");
  }
  array.elements.reserve(count);
  for (uint64_t i = 0; i < count; ++i) array.elements.push_back(read_value(in, array.element_type, field, depth + 1));
  return array;
}

Value read_value(Cursor& in, ValueType type, std::string_view field, int depth) {
  switch (type) {
    case ValueType::kUint8: return in.read<uint8_t>(field);
    case ValueType::kInt8: return in.read<int8_t>(field);
    case ValueType::kUint16: return in.read<uint16_t>(field);
    case ValueType::kInt16: return in.read<int16_t>(field);
    case ValueType::kUint32: return in.read<uint32_t>(field);
    case ValueType::kInt32: return in.read<int32_t>(field);
    case ValueType::kFloat32: return in.read<float>(field);
    case ValueType::kUint64: return in.read<uint64_t>(field);
    case ValueType::kInt64: return in.read<int64_t>(field);
    case ValueType::kFloat64: return in.read<double>(field);
    case ValueType::kString: return in.read_string(field);
    case ValueType::kArray: return read_array(in, field, depth);
    case ValueType::kBool: {
      const uint64_t at = in.pos();
      const uint8_t byte = in.read<uint8_t>(field);
      // Only 0/1 are canonical; anything else would not survive a byte-identical re-write.
      if (byte > 1) in.fail(field, at, "bool byte must be 0 or 1, got " + std::to_string(byte));
      return byte == 1;
    }
  }
  in.fail(field, in.pos(), "unknown value type");
}

uint64_t read_count(Cursor& in, std::string_view field, uint64_t min_entry_bytes) {
  const uint64_t at = in.pos();
  const uint64_t count = in.read<uint64_t>(field);
  if (count > static_cast<uint64_t>(INT64_MAX) || count > in.remaining() / min_entry_bytes) {
    in.fail(field, at, std::to_string(count) + " entries cannot fit in the " + std::to_string(in.remaining()) +
                           " bytes left");
  }
  return count;
}

void read_header_and_metadata(Cursor& in, GgufFile& file, uint64_t& n_tensors, std::vector<uint64_t>& key_offsets) {
  in.need(4, "magic");
  const auto magic = std::array{in.read<char>("magic"), in.read<char>("magic"), in.read<char>("magic"),
                                in.read<char>("magic")};
  if (std::string_view(magic.data(), 4) != "GGUF") in.fail("magic", 0, "expected 'GGUF'");
  const uint32_t version = in.read<uint32_t>("version");
  // gguf.cpp reads versions 2 and 3 alike (v3 only added big-endian files; v1 had 32-bit counts).
  if (version != 2 && version != 3)
    in.fail("version", 4, "only GGUF versions 2 and 3 are supported, got " + std::to_string(version));
  n_tensors = read_count(in, "n_tensors", kMinTensorInfoBytes);
  const uint64_t n_kv = read_count(in, "n_kv", kMinKvBytes);
  file.metadata.reserve(n_kv);
  std::unordered_set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string field = "kv[" + std::to_string(i) + "]";
    const uint64_t at = in.pos();
    key_offsets.push_back(at);
    std::string key = in.read_string(field + " key");
    if (key.empty()) in.fail(field + " key", at, "empty key");
    if (!keys.insert(key).second) in.fail(field + " key", at, "duplicate key '" + printable(key) + "'");
    const std::string value_field = field + " value of '" + printable(key) + "'";
    const ValueType type = in.read_type(value_field);
    file.metadata.push_back({std::move(key), read_value(in, type, value_field, 0)});
  }
}

// Returns the byte position of each tensor's offset field (for error messages).
std::vector<uint64_t> read_tensor_infos(Cursor& in, GgufFile& file, uint64_t n_tensors) {
  file.tensors.reserve(n_tensors);
  std::vector<uint64_t> offset_positions;
  offset_positions.reserve(n_tensors);
  std::unordered_set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const std::string field = "tensor[" + std::to_string(i) + "]";
    const uint64_t at = in.pos();
    TensorInfo tensor;
    tensor.name = in.read_string(field + " name");
    if (tensor.name.empty() || tensor.name.size() >= kMaxTensorName) {
      in.fail(field + " name", at, "name length " + std::to_string(tensor.name.size()) + " not in 1..63");
    }
    if (!names.insert(tensor.name).second) in.fail(field + " name", at, "duplicate tensor '" + printable(tensor.name) + "'");
    const uint64_t dims_at = in.pos();
    const uint32_t n_dims = in.read<uint32_t>(field + " n_dims");
    // gguf.cpp accepts 0 dims (a scalar: every ne defaults to 1); only more than GGML_MAX_DIMS is an error.
    if (n_dims > kMaxDims) in.fail(field + " n_dims", dims_at, std::to_string(n_dims) + " not in 0..4");
    for (uint32_t d = 0; d < n_dims; ++d) tensor.dims.push_back(in.read<uint64_t>(field + " ne"));
    const uint64_t type_at = in.pos();
    tensor.type = in.read<uint32_t>(field + " type");
    if (!find_ggml_type(tensor.type)) {
      in.fail(field + " type", type_at, "unknown ggml type " + std::to_string(tensor.type) + " (known: " + ggml_type_names() + ")");
    }
    if (!ggml_tensor_bytes(tensor.type, tensor.dims)) {
      in.fail(field + " ne", dims_at + 4, "shape invalid for type " + std::string(find_ggml_type(tensor.type)->name) +
                                              " (ne0 not a multiple of the block, or size overflow)");
    }
    offset_positions.push_back(in.pos());
    tensor.offset = in.read<uint64_t>(field + " offset");
    file.tensors.push_back(std::move(tensor));
  }
  return offset_positions;
}

}  // namespace

ParsedGguf parse_gguf(std::span<const std::byte> bytes, const std::string& source) {
  Cursor in(bytes, source);
  ParsedGguf parsed;
  uint64_t n_tensors = 0;
  read_header_and_metadata(in, parsed.file, n_tensors, parsed.key_offsets);
  uint64_t alignment = 0;
  try {
    alignment = parsed.file.alignment();
  } catch (const std::invalid_argument& e) {
    in.fail("general.alignment", in.pos(), e.what());
  }
  const std::vector<uint64_t> offset_positions = read_tensor_infos(in, parsed.file, n_tensors);
  // The data section starts at the next multiple of the alignment (docs/gguf.md §1).
  parsed.data_start = (in.pos() + alignment - 1) / alignment * alignment;
  // gguf.cpp seeks past the padding only when there are tensors: a metadata-only file (llama.cpp's
  // models/ggml-vocab-*.gguf) may end right after its last key-value pair.
  if (parsed.file.tensors.empty()) parsed.data_start = std::min<uint64_t>(parsed.data_start, bytes.size());
  if (parsed.data_start > bytes.size()) in.fail("data section", in.pos(), "padding runs past the end of the file");
  // Current gguf.cpp: tensor i starts where tensor i-1 ends, padded to the alignment, no gaps.
  uint64_t expected_offset = 0;
  const uint64_t data_bytes = bytes.size() - parsed.data_start;
  for (size_t i = 0; i < parsed.file.tensors.size(); ++i) {
    const TensorInfo& tensor = parsed.file.tensors[i];
    const uint64_t size = *ggml_tensor_bytes(tensor.type, tensor.dims);
    const std::string field = "tensor[" + std::to_string(i) + "] '" + printable(tensor.name) + "' offset";
    if (tensor.offset != expected_offset) {
      in.fail(field, offset_positions[i], std::to_string(tensor.offset) + " != expected " + std::to_string(expected_offset) +
                                              " (data must follow tensor-info order, each padded to the alignment)");
    }
    if (tensor.offset > data_bytes || size > data_bytes - tensor.offset) {
      in.fail(field, parsed.data_start + tensor.offset, "data of " + std::to_string(size) + " bytes runs past the end of the file");
    }
    expected_offset = (tensor.offset + size + alignment - 1) / alignment * alignment;
  }
  return parsed;
}

struct GgufReader::Storage {
  std::vector<std::byte> copy;
  void* map = nullptr;
  size_t map_size = 0;
  ~Storage() {
    if (map != nullptr) ::munmap(map, map_size);
  }
};

GgufReader::GgufReader(const std::filesystem::path& path) : storage_(std::make_unique<Storage>()), source_(path.string()) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("gguf: " + source_ + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    ::close(fd);
    throw std::runtime_error("gguf: " + source_ + ": cannot stat");
  }
  const auto size = static_cast<size_t>(info.st_size);
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      throw std::runtime_error("gguf: " + source_ + ": mmap failed: " + std::strerror(errno));
    }
    storage_->map = map;
    storage_->map_size = size;
    bytes_ = {static_cast<const std::byte*>(map), size};
  }
  ::close(fd);
  parsed_ = parse_gguf(bytes_, source_);
}

GgufReader::GgufReader(std::vector<std::byte> bytes, std::string source)
    : storage_(std::make_unique<Storage>()), source_(std::move(source)) {
  storage_->copy = std::move(bytes);
  bytes_ = storage_->copy;
  parsed_ = parse_gguf(bytes_, source_);
}

GgufReader::~GgufReader() = default;
GgufReader::GgufReader(GgufReader&&) noexcept = default;
GgufReader& GgufReader::operator=(GgufReader&&) noexcept = default;

std::span<const std::byte> GgufReader::tensor_data(size_t index) const {
  if (index >= parsed_.file.tensors.size()) {
    throw std::out_of_range("gguf: " + source_ + ": tensor index " + std::to_string(index) + " >= " +
                            std::to_string(parsed_.file.tensors.size()));
  }
  const TensorInfo& tensor = parsed_.file.tensors[index];
  return bytes_.subspan(parsed_.data_start + tensor.offset, *ggml_tensor_bytes(tensor.type, tensor.dims));
}

std::span<const std::byte> GgufReader::tensor_data(std::string_view name) const {
  for (size_t i = 0; i < parsed_.file.tensors.size(); ++i) {
    if (parsed_.file.tensors[i].name == name) return tensor_data(i);
  }
  throw std::out_of_range("gguf: " + source_ + ": no tensor '" + std::string(name) + "'");
}

std::optional<uint64_t> GgufReader::key_offset(std::string_view key) const {
  for (size_t i = 0; i < parsed_.file.metadata.size(); ++i)
    if (parsed_.file.metadata[i].key == key) return parsed_.key_offsets[i];
  return std::nullopt;
}

std::optional<uint64_t> GgufReader::tensor_offset(std::string_view name) const {
  const TensorInfo* info = parsed_.file.find_tensor(name);
  if (info == nullptr) return std::nullopt;
  return parsed_.data_start + info->offset;
}

std::vector<std::span<const std::byte>> GgufReader::all_tensor_data() const {
  std::vector<std::span<const std::byte>> spans;
  for (size_t i = 0; i < parsed_.file.tensors.size(); ++i) spans.push_back(tensor_data(i));
  return spans;
}

}  // namespace qforge::exporters::gguf
