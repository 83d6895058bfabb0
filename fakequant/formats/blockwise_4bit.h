#pragma once
// Blockwise 4-bit storage of a frozen tensor with optional double quantization: the QLoRA base-weight
// format (Dettmers et al. 2023, §3 "4-bit NormalFloat", "Double Quantization"), laid out as
// bitsandbytes stores it (functional.py quantize_4bit / dequantize_4bit / QuantState) so an exporter
// can map the fields one to one:
//   * the tensor is flattened (row-major) and cut into blocks of `block_size` (64) elements; the last
//     block may be short;
//   * absmax[b] = max |x| over block b (FP32); code = nearest table value of x * (1 / absmax[b]);
//   * two codes per byte, element 2i in the HIGH nibble and 2i+1 in the low nibble (bnb kQuantizeBlockwise:
//     qvals[j] = q(vals[2j]) << 4 | q(vals[2j+1])); an odd count leaves the last low nibble 0;
//   * double quantization (bnb compress_statistics=True): offset = mean(absmax) (FP32),
//     absmax - offset is quantized blockwise (256 per nested block, FP32 nested_absmax each) to the
//     8-bit dynamic map (dynamic_map.h); dequantization: absmax[b] = map[code] * nested_absmax + offset,
//     two roundings as in bnb (dequantize_blockwise, then `absmax += offset`).
// Storage per parameter: 4 + 8/64 + 32/(64*256) = 4.127 bits (+ 4 bytes for the offset); the 16- and
// 256-entry code tables are shared constants and are not counted (bnb stores them as quant_map /
// nested_quant_map in each file).
// NF4: table kNf4Values (nf4.h), identical to bnb "nf4". FP4: OCP E2M1 (fp4.h) normalized by its max 6,
// i.e. table[c] = decode_e2m1(c) / 6. BNB_FP4: bitsandbytes' own "fp4" table and rounding (bnb_fp4.h;
// subnormal 1/192 instead of 1/12, another code order; docs/numeric.md §2), so its blocks are the bytes a
// bnb "fp4" checkpoint holds; FP4 blocks need a code remap there and cannot hold the 1/12 subnormal.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qforge::fakequant {

enum class FourBitType { kNf4, kFp4, kBnbFp4 };

// "nf4" / "fp4" / "bnb_fp4".
const char* four_bit_type_name(FourBitType type);
// The 16 code values normalized to [-1, 1]; value = table[code] * absmax.
const std::array<float, 16>& four_bit_table(FourBitType type);
// Code of a value already divided by the block absmax (nearest table value).
uint8_t encode_four_bit(FourBitType type, float normalized);

struct Blockwise4BitOptions {
  int64_t block_size = 64;          // bnb blocksize (must be even)
  bool double_quant = true;         // bnb compress_statistics
  int64_t nested_block_size = 256;  // bnb quantize_blockwise(absmax, blocksize=256)
};

struct Blockwise4Bit {
  FourBitType type = FourBitType::kNf4;
  int64_t numel = 0;
  int64_t block_size = 64;
  bool double_quant = false;
  std::vector<uint8_t> codes;  // (numel + 1) / 2 bytes, high nibble first
  // Without double quantization: one FP32 absmax per block (bnb QuantState.absmax).
  std::vector<float> absmax;
  // With double quantization: bnb QuantState.absmax (uint8), state2.absmax (nested_absmax),
  // state2.blocksize (nested_block_size) and offset.
  std::vector<uint8_t> absmax_codes;
  std::vector<float> nested_absmax;
  int64_t nested_block_size = 256;
  float offset = 0.0f;

  int64_t blocks() const { return (numel + block_size - 1) / block_size; }
  // Bytes of codes and every level of scales (see the header comment).
  int64_t storage_bytes() const;
};

// Quantizes n floats. Throws std::invalid_argument for NaN/inf input (naming `tensor_name` and the
// element index) and for a bad block size.
Blockwise4Bit quantize_blockwise_4bit(const float* x, int64_t n, FourBitType type,
                                      const Blockwise4BitOptions& options = {},
                                      const std::string& tensor_name = "tensor");

// The dequantized absmax of block b (after undoing the double quantization).
float block_scale(const Blockwise4Bit& q, int64_t block);

// Elements [begin, end) to FP32: out[i - begin] = table[code(i)] * block_scale(block of i).
// The fast path (AVX-512 table lookup, blockwise_4bit_decode.cpp) gives the same bits as the
// element-by-element reference below.
void dequantize_blockwise_4bit(const Blockwise4Bit& q, int64_t begin, int64_t end, float* out);
void dequantize_blockwise_4bit_reference(const Blockwise4Bit& q, int64_t begin, int64_t end, float* out);

}  // namespace qforge::fakequant
