#include "fakequant/formats/blockwise_4bit.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "fakequant/formats/bnb_fp4.h"
#include "fakequant/formats/dynamic_map.h"
#include "fakequant/formats/fp4.h"
#include "fakequant/formats/nf4.h"

namespace qforge::fakequant {

namespace {

std::array<float, 16> make_fp4_table() {
  std::array<float, 16> t{};
  for (uint8_t c = 0; c < 16; ++c) t[c] = decode_e2m1(c) / kE2m1Max;
  return t;
}

void check_finite(const float* x, int64_t n, const std::string& name) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      throw std::invalid_argument("quantize_blockwise_4bit: " + name + " element " + std::to_string(i) + " is " +
                                  (std::isnan(x[i]) ? "NaN" : "inf") + "; 4-bit blocks need finite weights");
    }
  }
}

// Block absmax values and the packed codes.
void quantize_blocks(const float* x, Blockwise4Bit& q, std::vector<float>& absmax) {
  const uint8_t zero_code = encode_four_bit(q.type, 0.0f);
  absmax.assign(static_cast<size_t>(q.blocks()), 0.0f);
  q.codes.assign(static_cast<size_t>((q.numel + 1) / 2), 0);
  for (int64_t b = 0; b < q.blocks(); ++b) {
    const int64_t i0 = b * q.block_size, i1 = std::min(q.numel, i0 + q.block_size);
    float amax = 0.0f;
    for (int64_t i = i0; i < i1; ++i) amax = std::max(amax, std::fabs(x[i]));
    absmax[static_cast<size_t>(b)] = amax;
    // bnb multiplies by the reciprocal (kQuantizeBlockwise: local_abs_max = 1.0f / absmax). An all-zero
    // block gets the code of 0 (bnb would compute 0 * inf = NaN).
    const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
    for (int64_t i = i0; i < i1; ++i) {
      const uint8_t code = amax > 0.0f ? encode_four_bit(q.type, x[i] * inv) : zero_code;
      q.codes[static_cast<size_t>(i / 2)] |= static_cast<uint8_t>(i % 2 == 0 ? code << 4 : code);
    }
  }
}

// bnb quantize_4bit(compress_statistics=True): offset = absmax.mean(); quantize_blockwise(absmax - offset, 256).
void nest_absmax(const std::vector<float>& absmax, Blockwise4Bit& q) {
  double sum = 0.0;  // torch sums float32 with a wider accumulator; a double sum rounds once at the end
  for (float a : absmax) sum += a;
  q.offset = absmax.empty() ? 0.0f : static_cast<float>(sum / static_cast<double>(absmax.size()));
  const int64_t n = static_cast<int64_t>(absmax.size()), bs = q.nested_block_size;
  q.absmax_codes.assign(absmax.size(), 0);
  q.nested_absmax.assign(static_cast<size_t>((n + bs - 1) / bs), 0.0f);
  for (int64_t b = 0; b * bs < n; ++b) {
    const int64_t i0 = b * bs, i1 = std::min(n, i0 + bs);
    float amax = 0.0f;
    for (int64_t i = i0; i < i1; ++i) amax = std::max(amax, std::fabs(absmax[i] - q.offset));
    q.nested_absmax[static_cast<size_t>(b)] = amax;
    const float inv = amax > 0.0f ? 1.0f / amax : 0.0f;
    for (int64_t i = i0; i < i1; ++i) q.absmax_codes[i] = encode_dynamic((absmax[i] - q.offset) * inv);
  }
}

}  // namespace

const char* four_bit_type_name(FourBitType type) {
  return type == FourBitType::kNf4 ? "nf4" : type == FourBitType::kFp4 ? "fp4" : "bnb_fp4";
}

const std::array<float, 16>& four_bit_table(FourBitType type) {
  static const std::array<float, 16> fp4 = make_fp4_table();
  return type == FourBitType::kNf4 ? kNf4Values : type == FourBitType::kFp4 ? fp4 : bnb_fp4_values();
}

uint8_t encode_four_bit(FourBitType type, float normalized) {
  if (type == FourBitType::kNf4) return encode_nf4(normalized);
  if (type == FourBitType::kBnbFp4) return encode_bnb_fp4(normalized);
  return encode_e2m1(normalized * kE2m1Max);
}

int64_t Blockwise4Bit::storage_bytes() const {
  const auto bytes = static_cast<int64_t>(codes.size() + absmax.size() * sizeof(float) + absmax_codes.size() +
                                          nested_absmax.size() * sizeof(float));
  return bytes + (double_quant ? static_cast<int64_t>(sizeof(float)) : 0);
}

Blockwise4Bit quantize_blockwise_4bit(const float* x, int64_t n, FourBitType type, const Blockwise4BitOptions& options,
                                      const std::string& tensor_name) {
  if (options.block_size < 2 || options.block_size % 2 != 0) {
    throw std::invalid_argument("quantize_blockwise_4bit: " + tensor_name + ": block_size must be even and >= 2, got " +
                                std::to_string(options.block_size));
  }
  if (options.double_quant && options.nested_block_size < 1) {
    throw std::invalid_argument("quantize_blockwise_4bit: " + tensor_name + ": nested_block_size must be >= 1, got " +
                                std::to_string(options.nested_block_size));
  }
  if (n < 0) throw std::invalid_argument("quantize_blockwise_4bit: " + tensor_name + ": negative element count");
  check_finite(x, n, tensor_name);
  Blockwise4Bit q;
  q.type = type;
  q.numel = n;
  q.block_size = options.block_size;
  q.double_quant = options.double_quant;
  q.nested_block_size = options.nested_block_size;
  std::vector<float> absmax;
  quantize_blocks(x, q, absmax);
  if (options.double_quant) nest_absmax(absmax, q);
  else q.absmax = std::move(absmax);
  return q;
}

float block_scale(const Blockwise4Bit& q, int64_t block) {
  if (!q.double_quant) return q.absmax[static_cast<size_t>(block)];
  // Two roundings, as bnb: dequantize_blockwise gives map * nested_absmax, then absmax += offset.
  // (This file is compiled with -ffp-contract=off, so no fused multiply-add merges them.)
  const float nested = dynamic_map()[q.absmax_codes[static_cast<size_t>(block)]] *
                       q.nested_absmax[static_cast<size_t>(block / q.nested_block_size)];
  return nested + q.offset;
}

void dequantize_blockwise_4bit_reference(const Blockwise4Bit& q, int64_t begin, int64_t end, float* out) {
  const std::array<float, 16>& table = four_bit_table(q.type);
  for (int64_t i = begin; i < end; ++i) {
    const uint8_t byte = q.codes[static_cast<size_t>(i / 2)];
    const uint8_t code = i % 2 == 0 ? byte >> 4 : byte & 15;
    out[i - begin] = table[code] * block_scale(q, i / q.block_size);
  }
}

}  // namespace qforge::fakequant
