#include "exporters/hf/quant/bit_packing.h"

#include <bit>
#include <cassert>
#include <cmath>
#include <stdexcept>

#include "fakequant/formats/half.h"

namespace qforge::exporters::hf::quant {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Little-endian whatever the host: safetensors data are little-endian (docs/safetensors.md §1).
template <typename Unsigned>
void append_le(std::vector<std::byte>& out, Unsigned value) {
  for (size_t b = 0; b < sizeof(Unsigned); ++b) out.push_back(static_cast<std::byte>((value >> (8 * b)) & 0xFF));
}

template <typename Unsigned>
Unsigned read_le(const std::vector<std::byte>& data, size_t index) {
  Unsigned value = 0;
  for (size_t b = 0; b < sizeof(Unsigned); ++b) {
    value |= static_cast<Unsigned>(std::to_integer<unsigned>(data[index * sizeof(Unsigned) + b])) << (8 * b);
  }
  return value;
}

}  // namespace

Dtype scale_file_dtype(ScaleDtype dtype) {
  return dtype == ScaleDtype::kF16 ? Dtype::kF16 : dtype == ScaleDtype::kBF16 ? Dtype::kBF16 : Dtype::kF32;
}

int64_t stream_words(int64_t count, int bits) { return (count * bits + 31) / 32; }

void pack_stream(const int32_t* v, int64_t value_stride, int64_t count, int bits, uint32_t* words,
                 int64_t word_stride) {
  for (int64_t r = 0; r < stream_words(count, bits); ++r) words[r * word_stride] = 0;
  for (int64_t k = 0; k < count; ++k) {
    const int32_t value = v[k * value_stride];
    assert(value >= 0 && value < (1 << bits));
    const int64_t bit = k * bits, r = bit / 32;
    const int shift = static_cast<int>(bit % 32);
    const uint64_t placed = static_cast<uint64_t>(value) << shift;
    words[r * word_stride] |= static_cast<uint32_t>(placed);
    // The value straddles a word boundary: its high bits start the next word.
    if (shift + bits > 32) words[(r + 1) * word_stride] |= static_cast<uint32_t>(placed >> 32);
  }
}

void unpack_stream(const uint32_t* words, int64_t word_stride, int64_t count, int bits, int32_t* v,
                   int64_t value_stride) {
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t bit = k * bits, r = bit / 32;
    const int shift = static_cast<int>(bit % 32);
    uint64_t pair = words[r * word_stride];
    if (shift + bits > 32) pair |= static_cast<uint64_t>(words[(r + 1) * word_stride]) << 32;
    v[k * value_stride] = static_cast<int32_t>((pair >> shift) & mask);
  }
}

uint32_t pack_awq_word(const int32_t* eight_values) {
  uint32_t word = 0;
  for (int n = 0; n < 8; ++n) {
    assert(eight_values[kAwqOrder[n]] >= 0 && eight_values[kAwqOrder[n]] < 16);
    word |= static_cast<uint32_t>(eight_values[kAwqOrder[n]]) << (4 * n);
  }
  return word;
}

void unpack_awq_word(uint32_t word, int32_t* eight_values) {
  for (int n = 0; n < 8; ++n) eight_values[kAwqOrder[n]] = static_cast<int32_t>((word >> (4 * n)) & 0xF);
}

FileTensor words_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint32_t>& words) {
  assert(numel(shape) == static_cast<int64_t>(words.size()));
  FileTensor t{name, Dtype::kI32, std::move(shape), {}};
  t.data.reserve(words.size() * 4);
  for (uint32_t w : words) append_le(t.data, w);
  return t;
}

FileTensor int32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int32_t>& values) {
  std::vector<uint32_t> words(values.begin(), values.end());
  return words_tensor(name, std::move(shape), words);
}

FileTensor int64_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  assert(numel(shape) == static_cast<int64_t>(values.size()));
  FileTensor t{name, Dtype::kI64, std::move(shape), {}};
  for (int64_t v : values) append_le(t.data, static_cast<uint64_t>(v));
  return t;
}

FileTensor uint8_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint8_t>& values) {
  assert(numel(shape) == static_cast<int64_t>(values.size()));
  FileTensor t{name, Dtype::kU8, std::move(shape), {}};
  for (uint8_t v : values) t.data.push_back(static_cast<std::byte>(v));
  return t;
}

FileTensor float32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values) {
  assert(numel(shape) == static_cast<int64_t>(values.size()));
  FileTensor t{name, Dtype::kF32, std::move(shape), {}};
  for (float v : values) append_le(t.data, std::bit_cast<uint32_t>(v));
  return t;
}

FileTensor int8_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int8_t>& values) {
  assert(numel(shape) == static_cast<int64_t>(values.size()));
  FileTensor t{name, Dtype::kI8, std::move(shape), {}};
  for (int8_t v : values) t.data.push_back(static_cast<std::byte>(static_cast<uint8_t>(v)));
  return t;
}

FileTensor fp8_e4m3_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint8_t>& codes) {
  FileTensor t = uint8_tensor(name, std::move(shape), codes);
  t.dtype = Dtype::kF8E4M3;
  return t;
}

FileTensor half_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint16_t>& bits) {
  assert(numel(shape) == static_cast<int64_t>(bits.size()));
  FileTensor t{name, Dtype::kF16, std::move(shape), {}};
  for (uint16_t b : bits) append_le(t.data, b);
  return t;
}

FileTensor scale_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& scales,
                        ScaleDtype dtype) {
  assert(numel(shape) == static_cast<int64_t>(scales.size()));
  FileTensor t{name, scale_file_dtype(dtype), std::move(shape), {}};
  for (size_t i = 0; i < scales.size(); ++i) {
    float stored = scales[i];
    uint32_t code = std::bit_cast<uint32_t>(stored);
    if (dtype != ScaleDtype::kF32) {
      const bool f16 = dtype == ScaleDtype::kF16;
      code = f16 ? fakequant::encode_fp16(scales[i]) : fakequant::encode_bf16(scales[i]);
      stored = f16 ? fakequant::decode_fp16(static_cast<uint16_t>(code)) : fakequant::decode_bf16(static_cast<uint16_t>(code));
    }
    if (!(stored > 0.0f) || !std::isfinite(stored)) {
      throw std::invalid_argument(name + ": scale " + std::to_string(scales[i]) + " at index " + std::to_string(i) +
                                  " is " + (stored > 0.0f ? "inf" : "0") + " in " + safetensors::dtype_name(t.dtype));
    }
    if (dtype == ScaleDtype::kF32) {
      append_le(t.data, code);
    } else {
      append_le(t.data, static_cast<uint16_t>(code));
    }
  }
  return t;
}

const FileTensor& expect_tensor(const FileTensors& tensors, const std::string& name, Dtype dtype,
                                const std::vector<int64_t>& shape) {
  const auto it = tensors.find(name);
  if (it == tensors.end()) throw std::invalid_argument(name + ": tensor missing");
  const FileTensor& t = it->second;
  if (t.dtype != dtype) {
    throw std::invalid_argument(name + ": dtype " + safetensors::dtype_name(dtype) + " expected, found " +
                                safetensors::dtype_name(t.dtype));
  }
  bool same = t.shape.size() == shape.size();
  for (size_t i = 0; same && i < shape.size(); ++i) same = shape[i] < 0 || shape[i] == t.shape[i];
  if (!same) {
    throw std::invalid_argument(name + ": shape " + shape_text(shape) + " expected, found " + shape_text(t.shape));
  }
  const size_t bytes = static_cast<size_t>(numel(t.shape)) * safetensors::dtype_bytes(t.dtype);
  if (t.data.size() != bytes) {
    throw std::invalid_argument(name + ": " + std::to_string(bytes) + " data bytes expected, found " +
                                std::to_string(t.data.size()));
  }
  return t;
}

const FileTensor& expect_scales(const FileTensors& tensors, const std::string& name, const std::vector<int64_t>& shape,
                                bool allow_f32) {
  const auto it = tensors.find(name);
  const Dtype found = it == tensors.end() ? Dtype::kF16 : it->second.dtype;
  const bool other = found == Dtype::kBF16 || (allow_f32 && found == Dtype::kF32);
  return expect_tensor(tensors, name, other ? found : Dtype::kF16, shape);
}

std::vector<uint32_t> words_of(const FileTensor& t) {
  std::vector<uint32_t> out(t.data.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) out[i] = read_le<uint32_t>(t.data, i);
  return out;
}

std::vector<int32_t> int32_of(const FileTensor& t) {
  const std::vector<uint32_t> words = words_of(t);
  return std::vector<int32_t>(words.begin(), words.end());
}

std::vector<int64_t> int64_of(const FileTensor& t) {
  std::vector<int64_t> out(t.data.size() / 8);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(read_le<uint64_t>(t.data, i));
  return out;
}

std::vector<uint8_t> uint8_of(const FileTensor& t) {
  std::vector<uint8_t> out(t.data.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::to_integer<uint8_t>(t.data[i]);
  return out;
}

std::vector<float> float32_of(const FileTensor& t) {
  std::vector<float> out(t.data.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) out[i] = std::bit_cast<float>(read_le<uint32_t>(t.data, i));
  return out;
}

std::vector<int8_t> int8_of(const FileTensor& t) {
  std::vector<int8_t> out(t.data.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int8_t>(std::to_integer<uint8_t>(t.data[i]));
  return out;
}

std::vector<uint16_t> half_bits_of(const FileTensor& t) {
  std::vector<uint16_t> out(t.data.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = read_le<uint16_t>(t.data, i);
  return out;
}

std::vector<float> scales_of(const FileTensor& t) {
  if (t.dtype == Dtype::kF32) return float32_of(t);
  std::vector<float> out(t.data.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint16_t code = read_le<uint16_t>(t.data, i);
    out[i] = t.dtype == Dtype::kF16 ? fakequant::decode_fp16(code) : fakequant::decode_bf16(code);
  }
  return out;
}

}  // namespace qforge::exporters::hf::quant
