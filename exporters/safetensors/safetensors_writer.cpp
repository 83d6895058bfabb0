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

size_t element_bytes(Dtype dtype) { return dtype == Dtype::kF32 ? 4 : 2; }

// One tensor's header entry in the reference writer's field order (dtype, shape, data_offsets).
std::string entry_json(const std::string& name, const autograd::Tensor& t, Dtype dtype, size_t begin, size_t end) {
  std::string out = nlohmann::json(name).dump() + ":{\"dtype\":\"" + dtype_name(dtype) + "\",\"shape\":[";
  for (int i = 0; i < t.shape().ndim(); ++i) out += (i ? "," : "") + std::to_string(t.shape()[i]);
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

void append_data(std::vector<std::byte>& out, const autograd::Tensor& t, Dtype dtype) {
  append_values(out, t.data(), t.numel(), dtype);
}

}  // namespace

const char* dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32: return "F32";
    case Dtype::kF16: return "F16";
    case Dtype::kBF16: return "BF16";
  }
  return "?";
}

size_t dtype_bytes(Dtype dtype) { return element_bytes(dtype); }

namespace {

// The length prefix and the JSON header (tensors in name order, data contiguous in that order), padded
// with spaces so the data start (8 + header) is a multiple of 8, as the reference writer does.
std::string header_bytes(const TensorRefs& tensors, const Metadata& metadata, Dtype dtype) {
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + nlohmann::json(metadata).dump();
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw std::invalid_argument("safetensors write: invalid tensor name '" + name + "'");
    if (t == nullptr || (t->data() == nullptr && t->numel() != 0))
      throw std::invalid_argument("safetensors write: tensor '" + name + "' is undefined");
    const size_t bytes = static_cast<size_t>(t->numel()) * element_bytes(dtype);
    header += (header.size() > 1 ? "," : "") + entry_json(name, *t, dtype, offset, offset + bytes);
    offset += bytes;
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

}  // namespace

std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata, Dtype dtype) {
  const TensorRefs refs = refs_of(tensors);
  const std::string header = header_bytes(refs, metadata, dtype);
  std::vector<std::byte> out;
  out.reserve(header.size());
  for (char c : header) out.push_back(static_cast<std::byte>(c));
  for (const auto& [name, t] : tensors) append_data(out, t, dtype);
  return out;
}

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors, const Metadata& metadata,
                       Dtype dtype) {
  const std::vector<std::byte> bytes = serialize_safetensors(tensors, metadata, dtype);
  try {
    io::write_file_atomically(path, bytes);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("safetensors write: " + std::string(e.what()));  // the message starts with the path
  }
}

void write_safetensors_streamed(const std::filesystem::path& path, const TensorRefs& tensors, const Metadata& metadata,
                                Dtype dtype) {
  const std::string header = header_bytes(tensors, metadata, dtype);
  constexpr int64_t kChunk = 1 << 16;  // elements converted at a time
  try {
    io::write_file_atomically(path, [&](std::ostream& out) {
      out.write(header.data(), static_cast<std::streamsize>(header.size()));
      std::vector<std::byte> buffer;
      for (const auto& [name, t] : tensors) {
        for (int64_t begin = 0; begin < t->numel(); begin += kChunk) {
          const int64_t n = std::min(kChunk, t->numel() - begin);
          buffer.clear();
          append_values(buffer, t->data() + begin, n, dtype);
          out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
        }
      }
    });
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("safetensors write: " + std::string(e.what()));
  }
}

}  // namespace qforge::exporters::safetensors
