// safetensors writer (format in safetensors.h).
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "exporters/safetensors/safetensors.h"
#include "fakequant/formats/half.h"
#include "io/atomic_file.h"

namespace qforge::exporters::safetensors {
namespace {

// One tensor of the file: an FP32 tensor converted to the file's float dtype, or an encoded one.
struct Item {
  const std::string* name;
  Dtype dtype;
  std::vector<int64_t> shape;
  const autograd::Tensor* floats = nullptr;
  const EncodedTensor* encoded = nullptr;
  size_t bytes() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return static_cast<size_t>(n) * dtype_bytes(dtype);
  }
};

// One tensor's header entry in the reference writer's field order (dtype, shape, data_offsets).
std::string entry_json(const Item& item, size_t begin, size_t end) {
  std::string out = nlohmann::json(*item.name).dump() + ":{\"dtype\":\"" + dtype_name(item.dtype) + "\",\"shape\":[";
  for (size_t i = 0; i < item.shape.size(); ++i) out += (i ? "," : "") + std::to_string(item.shape[i]);
  return out + "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

void append_le16(std::vector<std::byte>& out, uint16_t v) {
  out.push_back(static_cast<std::byte>(v & 0xFF));
  out.push_back(static_cast<std::byte>(v >> 8));
}

void append_values(std::vector<std::byte>& out, const float* x, int64_t n, Dtype dtype) {
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == Dtype::kF16) {
      append_le16(out, fakequant::encode_fp16(x[i]));
    } else if (dtype == Dtype::kBF16) {
      append_le16(out, fakequant::encode_bf16(x[i]));
    } else {
      uint32_t bits;
      std::memcpy(&bits, &x[i], 4);
      for (int b = 0; b < 4; ++b) out.push_back(static_cast<std::byte>((bits >> (8 * b)) & 0xFF));
    }
  }
}

void check_name(const std::string& name) {
  if (name.empty() || name == "__metadata__")
    throw std::invalid_argument("safetensors write: invalid tensor name '" + name + "'");
}

// Every tensor of both maps, merged in name order and checked.
std::vector<Item> items_of(const TensorRefs& tensors, Dtype dtype, const EncodedTensors& encoded) {
  if (dtype != Dtype::kF32 && dtype != Dtype::kF16 && dtype != Dtype::kBF16)
    throw std::invalid_argument(std::string("safetensors write: float tensors are written as F32, F16 or BF16, not ") +
                                dtype_name(dtype) + " (give such tensors encoded)");
  std::vector<Item> items;
  for (const auto& [name, t] : tensors) {
    check_name(name);
    if (t == nullptr || (t->data() == nullptr && t->numel() != 0))
      throw std::invalid_argument("safetensors write: tensor '" + name + "' is undefined");
    Item item{&name, dtype, {}, t, nullptr};
    for (int i = 0; i < t->shape().ndim(); ++i) item.shape.push_back(t->shape()[i]);
    items.push_back(std::move(item));
  }
  for (const auto& [name, t] : encoded) {
    check_name(name);
    if (tensors.count(name)) throw std::invalid_argument("safetensors write: tensor '" + name + "' given twice");
    if (t.name != name)
      throw std::invalid_argument("safetensors write: encoded tensor '" + t.name + "' is filed as '" + name + "'");
    Item item{&name, t.dtype, t.shape, nullptr, &t};
    if (std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; }) || item.bytes() != t.data.size())
      throw std::invalid_argument("safetensors write: tensor '" + name + "' holds " + std::to_string(t.data.size()) +
                                  " bytes, its " + dtype_name(t.dtype) + " shape needs " + std::to_string(item.bytes()));
    items.push_back(std::move(item));
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return *a.name < *b.name; });
  return items;
}

// The length prefix and the JSON header (tensors in name order, data contiguous in that order), padded
// with spaces so the data start (8 + header) is a multiple of 8, as the reference writer does.
std::string header_bytes(const std::vector<Item>& items, const Metadata& metadata) {
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + nlohmann::json(metadata).dump();
  size_t offset = 0;
  for (const Item& item : items) {
    header += (header.size() > 1 ? "," : "") + entry_json(item, offset, offset + item.bytes());
    offset += item.bytes();
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) out[b] = static_cast<char>((n >> (8 * b)) & 0xFF);
  return out + header;
}

TensorRefs refs_of(const NamedTensors& tensors) {
  TensorRefs refs;
  for (const auto& [name, t] : tensors) refs[name] = &t;
  return refs;
}

// The data of `item`, handed to `sink` in chunks of at most 2^16 elements (float tensors converted).
template <typename Sink>
void emit_data(const Item& item, Sink&& sink) {
  if (item.encoded) {
    sink(item.encoded->data);
    return;
  }
  constexpr int64_t kChunk = 1 << 16;  // elements converted at a time
  std::vector<std::byte> buffer;
  const autograd::Tensor& t = *item.floats;
  for (int64_t begin = 0; begin < t.numel(); begin += kChunk) {
    buffer.clear();
    append_values(buffer, t.data() + begin, std::min(kChunk, t.numel() - begin), item.dtype);
    sink(buffer);
  }
}

}  // namespace

const char* dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32: return "F32";
    case Dtype::kF16: return "F16";
    case Dtype::kBF16: return "BF16";
    case Dtype::kF8E4M3: return "F8_E4M3";
    case Dtype::kI8: return "I8";
    case Dtype::kU8: return "U8";
    case Dtype::kI32: return "I32";
    case Dtype::kI64: return "I64";
  }
  return "?";
}

size_t dtype_bytes(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32: case Dtype::kI32: return 4;
    case Dtype::kF16: case Dtype::kBF16: return 2;
    case Dtype::kF8E4M3: case Dtype::kI8: case Dtype::kU8: return 1;
    case Dtype::kI64: return 8;
  }
  return 0;
}

bool is_float_dtype(Dtype dtype) {
  return dtype == Dtype::kF32 || dtype == Dtype::kF16 || dtype == Dtype::kBF16 || dtype == Dtype::kF8E4M3;
}

int64_t EncodedTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata, Dtype dtype,
                                             const EncodedTensors& encoded) {
  const TensorRefs refs = refs_of(tensors);
  const std::vector<Item> items = items_of(refs, dtype, encoded);
  const std::string header = header_bytes(items, metadata);
  std::vector<std::byte> out;
  out.reserve(header.size());
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  for (const Item& item : items)
    emit_data(item, [&](const std::vector<std::byte>& bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); });
  return out;
}

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata,
                       Dtype dtype, const EncodedTensors& encoded) {
  const std::vector<std::byte> bytes = serialize_safetensors(tensors, metadata, dtype, encoded);
  try {
    io::write_file_atomically(path, bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("safetensors write: " + std::string(e.what()));  // the message starts with the path
  }
}

void write_safetensors_streamed(const std::filesystem::path& path, const TensorRefs& tensors, const Metadata& metadata,
                                Dtype dtype, const EncodedTensors& encoded) {
  const std::vector<Item> items = items_of(tensors, dtype, encoded);
  const std::string header = header_bytes(items, metadata);
  try {
    io::write_file_atomically(path, [&](std::ostream& out) {
      out.write(header.data(), static_cast<std::streamsize>(header.size()));
      for (const Item& item : items)
        emit_data(item, [&](const std::vector<std::byte>& bytes) {
          out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
        });
    });
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("safetensors write: " + std::string(e.what()));
  }
}

}  // namespace qforge::exporters::safetensors
