// safetensors reader (format in safetensors.h). Every number from the header is checked against the
// file before it is used, so a truncated or corrupted file is an error naming the field, never a crash.
// Errors (io/read_error.h): "safetensors: FILE: FIELD at byte N: what" for the header length, the JSON text
// and a tensor's data (N in the file: 8 + header length + its data_offsets); a key of the JSON header is named
// by its path without a byte ("safetensors: FILE: tensor 'w': field shape ...").
#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

#include "exporters/safetensors/safetensors.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "io/read_error.h"

namespace qforge::exporters::safetensors {
namespace {

// The reference implementation's header limit (100 MB).
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw io::ReadError("safetensors: " + source + ": " + what);
}

[[noreturn]] void fail_at(const std::string& source, const std::string& field, uint64_t at, const std::string& what) {
  io::throw_read_error("safetensors", source, field, at, what);
}

std::string tensor_field(const std::string& name) { return "tensor '" + io::printable(name) + "'"; }

constexpr Dtype kDtypes[] = {Dtype::kF32, Dtype::kF16, Dtype::kBF16, Dtype::kF8E4M3,
                             Dtype::kI8,  Dtype::kU8,  Dtype::kI32,  Dtype::kI64};

// A supported dtype; other dtypes of the format are rejected by name.
Dtype parse_dtype(const std::string& dtype, const std::string& source, const std::string& tensor) {
  std::string names;
  for (Dtype d : kDtypes) {
    if (dtype == dtype_name(d)) return d;
    names += (names.empty() ? "" : ", ") + std::string(dtype_name(d));
  }
  fail(source, "tensor '" + tensor + "': dtype " + dtype + " is not supported (" + names + ")");
}

size_t element_bytes(Dtype dtype) { return dtype_bytes(dtype); }

using Entry = TensorEntry;

std::vector<int64_t> parse_shape(const nlohmann::json& j, uint64_t buffer_bytes, const std::string& source,
                                 const std::string& name) {
  if (!j.is_array()) fail(source, "tensor '" + name + "': field shape is not an array");
  if (j.size() > static_cast<size_t>(autograd::kMaxDims))
    fail(source, "tensor '" + name + "': field shape has " + std::to_string(j.size()) + " dimensions (at most " +
                     std::to_string(autograd::kMaxDims) + ")");
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_unsigned()) fail(source, "tensor '" + name + "': field shape holds " + d.dump());
    const uint64_t v = d.get<uint64_t>();
    // No dimension of a stored tensor can exceed the buffer's byte count (0-sized tensors aside).
    if (v > buffer_bytes) fail(source, "tensor '" + name + "': field shape dimension " + std::to_string(v) + " exceeds the data size");
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

Entry parse_entry(const std::string& name, const nlohmann::json& j, uint64_t data_start, uint64_t buffer_bytes,
                  const std::string& source) {
  if (!j.is_object()) fail(source, "tensor '" + name + "' is not an object");
  Entry e{name, Dtype::kF32, {}, 0, 0};
  if (!j.contains("dtype") || !j["dtype"].is_string()) fail(source, "tensor '" + name + "': field dtype missing or not a string");
  e.dtype = parse_dtype(j["dtype"].get<std::string>(), source, name);
  const size_t elem = element_bytes(e.dtype);
  if (!j.contains("shape")) fail(source, "tensor '" + name + "': field shape missing");
  e.shape = parse_shape(j["shape"], buffer_bytes, source, name);
  const auto& offsets = j.contains("data_offsets") ? j["data_offsets"] : nlohmann::json();
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
    fail(source, "tensor '" + name + "': field data_offsets is not [begin, end]");
  e.begin = offsets[0].get<uint64_t>();
  e.end = offsets[1].get<uint64_t>();
  if (e.begin > e.end || e.end > buffer_bytes)
    fail_at(source, tensor_field(name), data_start + std::min(e.begin, buffer_bytes),
            "field data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] outside the data (" +
                std::to_string(buffer_bytes) + " bytes from byte " + std::to_string(data_start) + ")");
  unsigned __int128 bytes = elem;
  for (int64_t d : e.shape) bytes *= static_cast<uint64_t>(d);  // each d <= buffer_bytes: no overflow in 128 bits for <= 4 dims
  if (bytes != e.end - e.begin)
    fail_at(source, tensor_field(name), data_start + e.begin,
            "field shape needs " + std::to_string(static_cast<uint64_t>(bytes)) + " bytes but data_offsets span " +
                std::to_string(e.end - e.begin));
  return e;
}

// The buffer must be fully indexed: sorted by begin, ranges touch end to start from 0 to its size.
void check_coverage(std::vector<Entry>& entries, uint64_t data_start, uint64_t buffer_bytes, const std::string& source) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t at = 0;
  for (const Entry& e : entries) {
    if (e.begin != at)
      fail_at(source, tensor_field(e.name), data_start + e.begin,
              "field data_offsets begins at " + std::to_string(e.begin) + ", expected " + std::to_string(at) +
                  " (holes or overlaps)");
    at = e.end;
  }
  if (at != buffer_bytes)
    fail_at(source, "data", data_start + at, "the data section has " + std::to_string(buffer_bytes) +
                                                 " bytes but the tensors cover " + std::to_string(at));
}

// Little-endian bytes to FP32, whatever the host's byte order (float dtypes only). One loop per dtype,
// branch-free inside, so the compiler vectorizes the byte assembly (a plain load on a little-endian
// host) and BF16's shift: a 1B-parameter import is bound by this and the page faults.
void decode_into(const Entry& e, const std::byte* data, float* out, int64_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  if (e.dtype == Dtype::kF32) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t bits = static_cast<uint32_t>(p[4 * i]) | static_cast<uint32_t>(p[4 * i + 1]) << 8 |
                            static_cast<uint32_t>(p[4 * i + 2]) << 16 | static_cast<uint32_t>(p[4 * i + 3]) << 24;
      out[i] = std::bit_cast<float>(bits);
    }
  } else if (e.dtype == Dtype::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t code = static_cast<uint32_t>(p[2 * i]) | static_cast<uint32_t>(p[2 * i + 1]) << 8;
      out[i] = std::bit_cast<float>(code << 16);  // fakequant::decode_bf16
    }
  } else if (e.dtype == Dtype::kF8E4M3) {
    for (int64_t i = 0; i < n; ++i) out[i] = fakequant::decode_e4m3(p[i]);  // torch.float8_e4m3fn (docs/numeric.md §3)
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = fakequant::decode_fp16(static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8)));
  }
}

Metadata parse_metadata(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) fail(source, "__metadata__ is not an object");
  Metadata out;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) fail(source, "__metadata__ key '" + key + "' is not a string");
    out[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace

int64_t TensorEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsHeader parse_safetensors_header(std::span<const std::byte> bytes, const std::string& source) {
  if (bytes.size() < 8)
    fail_at(source, "header length", 0, "file has " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int b = 0; b < 8; ++b) n |= static_cast<uint64_t>(bytes[b]) << (8 * b);
  if (n > kMaxHeaderBytes || n > bytes.size() - 8)
    fail_at(source, "header length", 0, std::to_string(n) + " exceeds the file (" + std::to_string(bytes.size()) + " bytes)");
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  if (n == 0 || text[0] != '{') fail_at(source, "header", 8, "does not start with '{'");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + n);
  } catch (const nlohmann::json::parse_error& e) {
    throw io::ReadError(io::json_parse_error("safetensors", source, 8, e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    fail_at(source, "header", 8, std::string("is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(source, "header is not a JSON object");
  const uint64_t buffer_bytes = bytes.size() - 8 - n;
  SafetensorsHeader out;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") out.metadata = parse_metadata(value, source);
    else out.tensors.push_back(parse_entry(name, value, 8 + n, buffer_bytes, source));
  }
  check_coverage(out.tensors, 8 + n, buffer_bytes, source);
  for (Entry& e : out.tensors) {  // relative to the data section -> relative to the file
    e.begin += 8 + n;
    e.end += 8 + n;
  }
  return out;
}

namespace {

// The entry's range lies in `bytes` and matches its dtype and shape.
void check_range(const TensorEntry& entry, std::span<const std::byte> bytes, const char* what) {
  if (entry.end > bytes.size() || entry.begin > entry.end ||
      entry.end - entry.begin != static_cast<uint64_t>(entry.numel()) * element_bytes(entry.dtype))
    throw std::invalid_argument(std::string("safetensors: ") + what + " '" + entry.name + "': " +
                                std::to_string(entry.numel()) + " " + dtype_name(entry.dtype) + " elements in bytes [" +
                                std::to_string(entry.begin) + ", " + std::to_string(entry.end) + ") of " +
                                std::to_string(bytes.size()));
}

}  // namespace

void decode_tensor(const TensorEntry& entry, std::span<const std::byte> bytes, std::span<float> out) {
  check_range(entry, bytes, "decode_tensor");
  if (!is_float_dtype(entry.dtype))
    throw std::invalid_argument("safetensors: decode_tensor '" + entry.name + "': dtype " + dtype_name(entry.dtype) +
                                " is not a float dtype");
  if (static_cast<int64_t>(out.size()) != entry.numel())
    throw std::invalid_argument("safetensors: decode_tensor '" + entry.name + "': " + std::to_string(entry.numel()) +
                                " elements into " + std::to_string(out.size()) + " floats");
  decode_into(entry, bytes.data() + entry.begin, out.data(), entry.numel());
}

EncodedTensor encoded_tensor(const TensorEntry& entry, std::span<const std::byte> bytes) {
  check_range(entry, bytes, "encoded_tensor");
  return EncodedTensor{entry.name, entry.dtype, entry.shape,
                       std::vector<std::byte>(bytes.begin() + static_cast<std::ptrdiff_t>(entry.begin),
                                              bytes.begin() + static_cast<std::ptrdiff_t>(entry.end))};
}

SafetensorsContents parse_safetensors(std::span<const std::byte> bytes, const std::string& source) {
  SafetensorsHeader header = parse_safetensors_header(bytes, source);
  SafetensorsContents out;
  out.metadata = std::move(header.metadata);
  for (const Entry& e : header.tensors) {
    if (!is_float_dtype(e.dtype)) {
      out.encoded.emplace(e.name, encoded_tensor(e, bytes));
      continue;
    }
    autograd::Tensor t{autograd::Shape(e.shape)};
    decode_tensor(e, bytes, std::span<float>(t.data(), static_cast<size_t>(t.numel())));
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

SafetensorsContents read_safetensors(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("safetensors: " + path.string() + ": cannot open");
  const std::streamoff size = in.tellg();
  std::vector<std::byte> bytes(static_cast<size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  if (!in) throw std::runtime_error("safetensors: " + path.string() + ": read failed");
  return parse_safetensors(bytes, path.string());
}

}  // namespace qforge::exporters::safetensors
