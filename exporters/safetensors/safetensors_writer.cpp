// safetensors writer (format in safetensors.h).
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

void append_data(std::vector<std::byte>& out, const autograd::Tensor& t, Dtype dtype) {
  const float* x = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
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

}  // namespace

const char* dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32: return "F32";
    case Dtype::kF16: return "F16";
    case Dtype::kBF16: return "BF16";
  }
  return "?";
}

std::vector<std::byte> serialize_safetensors(const NamedTensors& tensors, const Metadata& metadata, Dtype dtype) {
  std::string header = "{";
  if (!metadata.empty()) header += "\"__metadata__\":" + nlohmann::json(metadata).dump();
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw std::invalid_argument("safetensors write: invalid tensor name '" + name + "'");
    if (t.data() == nullptr && t.numel() != 0)
      throw std::invalid_argument("safetensors write: tensor '" + name + "' is undefined");
    const size_t bytes = static_cast<size_t>(t.numel()) * element_bytes(dtype);
    header += (header.size() > 1 ? "," : "") + entry_json(name, t, dtype, offset, offset + bytes);
    offset += bytes;
  }
  header += "}";
  // Pad with spaces so the data start (8 + header) is a multiple of 8, as the reference writer does.
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<std::byte> out;
  out.reserve(8 + header.size() + offset);
  const uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) out.push_back(static_cast<std::byte>((n >> (8 * b)) & 0xFF));
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

}  // namespace qforge::exporters::safetensors
