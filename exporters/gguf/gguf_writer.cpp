#include "exporters/gguf/gguf_writer.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "exporters/gguf/ggml_types.h"
#include "io/atomic_file.h"

namespace qforge::exporters::gguf {

namespace {

uint64_t align_up(uint64_t x, uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

// Little-endian primitive output; GGUF is little-endian (v3 big-endian files are a separate variant
// we never write). This build targets x86-64/aarch64 little-endian hosts.
static_assert(std::endian::native == std::endian::little, "gguf writer assumes a little-endian host");

class ByteSink {
 public:
  explicit ByteSink(std::ostream& out) : out_(out) {}
  template <class T> void put(T x) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.write(reinterpret_cast<const char*>(&x), sizeof(T));
    written_ += sizeof(T);
  }
  void put_bytes(const void* data, size_t size) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    written_ += size;
  }
  void put_string(std::string_view text) {
    put<uint64_t>(text.size());
    put_bytes(text.data(), text.size());
  }
  void pad_to(uint64_t alignment) {
    static constexpr std::array<char, 256> kZeros{};
    uint64_t missing = align_up(written_, alignment) - written_;
    while (missing > 0) {
      const uint64_t chunk = std::min<uint64_t>(missing, kZeros.size());
      put_bytes(kZeros.data(), chunk);
      missing -= chunk;
    }
  }
  uint64_t written() const { return written_; }

 private:
  std::ostream& out_;
  uint64_t written_ = 0;
};

void check_value(const Value& value, const std::string& where, int depth) {
  const Array* array = value.get_if<Array>();
  if (array == nullptr) return;
  if (static_cast<uint32_t>(array->element_type) >= kValueTypeCount) {
    throw std::invalid_argument("gguf writer: " + where + ": unknown array element type " +
                                std::to_string(static_cast<uint32_t>(array->element_type)));
  }
  if (depth > 8) throw std::invalid_argument("gguf writer: " + where + ": arrays nested deeper than 8");
  for (size_t i = 0; i < array->elements.size(); ++i) {
    const Value& element = array->elements[i];
    if (element.type() != array->element_type) {
      throw std::invalid_argument("gguf writer: " + where + "[" + std::to_string(i) + "]: element type " +
                                  std::string(value_type_name(element.type())) + " != array type " +
                                  std::string(value_type_name(array->element_type)));
    }
    check_value(element, where + "[" + std::to_string(i) + "]", depth + 1);
  }
}

void check_model(const GgufFile& file, std::span<const std::span<const std::byte>> tensor_data) {
  std::set<std::string_view> keys;
  for (const KeyValue& kv : file.metadata) {
    if (kv.key.empty()) throw std::invalid_argument("gguf writer: empty metadata key");
    if (!keys.insert(kv.key).second) throw std::invalid_argument("gguf writer: duplicate key '" + kv.key + "'");
    check_value(kv.value, "key '" + kv.key + "'", 0);
  }
  file.alignment();  // throws for a malformed general.alignment
  if (tensor_data.size() != file.tensors.size()) {
    throw std::invalid_argument("gguf writer: " + std::to_string(file.tensors.size()) + " tensor infos but " +
                                std::to_string(tensor_data.size()) + " data spans");
  }
  layout_offsets(file);  // throws for a type/shape the block table cannot hold
  std::set<std::string_view> names;
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const TensorInfo& tensor = file.tensors[i];
    if (tensor.name.empty() || tensor.name.size() >= kMaxTensorName) {
      throw std::invalid_argument("gguf writer: tensor name '" + tensor.name + "' must have 1.." +
                                  std::to_string(kMaxTensorName - 1) + " bytes");
    }
    if (!names.insert(tensor.name).second) {
      throw std::invalid_argument("gguf writer: duplicate tensor name '" + tensor.name + "'");
    }
    const uint64_t expected = *ggml_tensor_bytes(tensor.type, tensor.dims);  // layout_offsets checked it
    if (tensor_data[i].size() != expected) {
      throw std::invalid_argument("gguf writer: tensor '" + tensor.name + "' needs " + std::to_string(expected) +
                                  " bytes, got " + std::to_string(tensor_data[i].size()));
    }
  }
}

void write_value(ByteSink& sink, const Value& value) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          sink.put_string(x);
        } else if constexpr (std::is_same_v<T, Array>) {
          sink.put<uint32_t>(static_cast<uint32_t>(x.element_type));
          sink.put<uint64_t>(x.elements.size());
          for (const Value& element : x.elements) write_value(sink, element);
        } else if constexpr (std::is_same_v<T, bool>) {
          sink.put<uint8_t>(x ? 1 : 0);  // bool is one byte
        } else {
          sink.put<T>(x);
        }
      },
      value.storage);
}

}  // namespace

std::vector<uint64_t> layout_offsets(const GgufFile& file) {
  const uint64_t alignment = file.alignment();
  std::vector<uint64_t> offsets;
  offsets.reserve(file.tensors.size());
  uint64_t next = 0;
  for (const TensorInfo& tensor : file.tensors) {
    const std::optional<uint64_t> bytes = ggml_tensor_bytes(tensor.type, tensor.dims);
    if (!bytes) {
      std::string shape;
      for (uint64_t d : tensor.dims) {
        if (!shape.empty()) shape += ',';
        shape += std::to_string(d);
      }
      throw std::invalid_argument("gguf writer: tensor '" + tensor.name + "': ggml type " +
                                  std::to_string(tensor.type) + " cannot hold shape [" + shape +
                                  "] (unknown type, >4 dims, ne0 not a multiple of the block, or overflow)");
    }
    offsets.push_back(next);
    next = align_up(next + *bytes, alignment);
  }
  return offsets;
}

namespace {

// Header, metadata, tensor infos and the padding up to the data section.
void write_header(ByteSink& sink, const GgufFile& file, const std::vector<uint64_t>& offsets) {
  sink.put_bytes("GGUF", 4);
  sink.put<uint32_t>(kGgufVersion);
  sink.put<uint64_t>(file.tensors.size());
  sink.put<uint64_t>(file.metadata.size());
  for (const KeyValue& kv : file.metadata) {
    sink.put_string(kv.key);
    sink.put<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    write_value(sink, kv.value);
  }
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    const TensorInfo& tensor = file.tensors[i];
    sink.put_string(tensor.name);
    sink.put<uint32_t>(static_cast<uint32_t>(tensor.dims.size()));
    for (uint64_t d : tensor.dims) sink.put<uint64_t>(d);
    sink.put<uint32_t>(tensor.type);
    sink.put<uint64_t>(offsets[i]);
  }
  sink.pad_to(file.alignment());
}

}  // namespace

uint64_t write_gguf_header(std::ostream& out, const GgufFile& file) {
  const std::vector<uint64_t> offsets = layout_offsets(file);
  ByteSink sink(out);
  write_header(sink, file, offsets);
  return sink.written();
}

void write_gguf(std::ostream& out, const GgufFile& file, std::span<const std::span<const std::byte>> tensor_data) {
  check_model(file, tensor_data);
  const std::vector<uint64_t> offsets = layout_offsets(file);
  const uint64_t alignment = file.alignment();
  ByteSink sink(out);
  write_header(sink, file, offsets);
  const uint64_t data_start = sink.written();
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    if (sink.written() - data_start != offsets[i]) throw std::logic_error("gguf writer: layout mismatch");
    sink.put_bytes(tensor_data[i].data(), tensor_data[i].size());
    sink.pad_to(alignment);  // relative padding == absolute padding: data_start is aligned
  }
}

std::vector<std::byte> serialize_gguf(const GgufFile& file, std::span<const std::span<const std::byte>> tensor_data) {
  std::ostringstream out(std::ios::binary);
  write_gguf(out, file, tensor_data);
  const std::string text = std::move(out).str();
  std::vector<std::byte> bytes(text.size());
  std::memcpy(bytes.data(), text.data(), text.size());
  return bytes;
}

void write_gguf_file(const std::filesystem::path& path, const GgufFile& file,
                     std::span<const std::span<const std::byte>> tensor_data) {
  // Errors from write_gguf get the path here, I/O errors from io already start with it.
  const auto write = [&](std::ostream& out) {
    try {
      write_gguf(out, file, tensor_data);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(path.string() + ": " + e.what());
    } catch (const std::exception& e) {
      throw std::runtime_error(path.string() + ": " + e.what());
    }
  };
  try {
    io::write_file_atomically(path, write);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("gguf writer: " + std::string(e.what()));
  }
}

}  // namespace qforge::exporters::gguf
