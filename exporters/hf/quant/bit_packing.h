#pragma once
// Bit-level helpers shared by the Hugging Face quantized layouts (docs/hf-quantized.md §2-§4): the
// LSB-first bit stream of GPTQ and compressed-tensors, AWQ's interleaved nibbles, and the typed
// little-endian tensors (I32 words, I64, F16 / BF16 scales) with the checks the unpackers make.
#include <cstdint>
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"

namespace qforge::exporters::hf::quant {

// Words needed for `count` values of `bits` bits: ceil(count * bits / 32).
int64_t stream_words(int64_t count, int bits);

// Values v[k * value_stride], k < count (each in 0 .. 2^bits - 1), as one LSB-first bit stream: value k
// occupies stream bits [bits * k, bits * k + bits), stream bit j is bit j % 32 of word j / 32, so a
// 3-bit value can straddle two words. Word r goes to words[r * word_stride]; bits past the last value
// are 0. GPTQ qweight / qzeros, compressed-tensors weight_packed / weight_zero_point (§2, §4).
void pack_stream(const int32_t* v, int64_t value_stride, int64_t count, int bits, uint32_t* words,
                 int64_t word_stride);
// The inverse: value k of the stream at words[r * word_stride] into v[k * value_stride].
void unpack_stream(const uint32_t* words, int64_t word_stride, int64_t count, int bits, int32_t* v,
                   int64_t value_stride);

// AWQ GEMM (§3): nibble n (bits 4n .. 4n+3) of a word holds the value at position kAwqOrder[n] of its
// run of 8; the unpack order is the inverse permutation.
inline constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};
uint32_t pack_awq_word(const int32_t* eight_values);
void unpack_awq_word(uint32_t word, int32_t* eight_values);

using safetensors::Dtype;
// The file dtype a ScaleDtype stores: F16, BF16 or F32.
Dtype scale_file_dtype(ScaleDtype dtype);

// Typed tensors for the packers.
FileTensor words_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint32_t>& words);
FileTensor int32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int32_t>& values);
FileTensor int64_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int64_t>& values);
FileTensor uint8_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint8_t>& values);
FileTensor float32_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values);
FileTensor int8_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<int8_t>& values);
// E4M3 bytes (OCP OFP8, fakequant/formats/fp8.h) as safetensors' F8_E4M3.
FileTensor fp8_e4m3_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint8_t>& codes);
// binary16 bit patterns as F16.
FileTensor half_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<uint16_t>& bits);
// Scales rounded to nearest even in `dtype` (F32: as they are); std::invalid_argument naming the tensor
// when one rounds to 0 or overflows to inf (a loader would dequantize that group to 0 or inf).
FileTensor scale_tensor(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& scales,
                        ScaleDtype dtype);

// Unpacker side: the tensor `name` of `tensors`, checked to have `dtype` and `shape`; a shape entry of
// -1 accepts any size there. std::invalid_argument naming the tensor when it is missing or differs.
const FileTensor& expect_tensor(const FileTensors& tensors, const std::string& name, Dtype dtype,
                                const std::vector<int64_t>& shape);
std::vector<uint32_t> words_of(const FileTensor& t);   // I32
std::vector<int32_t> int32_of(const FileTensor& t);    // I32
std::vector<int64_t> int64_of(const FileTensor& t);    // I64
std::vector<uint8_t> uint8_of(const FileTensor& t);    // U8
std::vector<float> float32_of(const FileTensor& t);    // F32
std::vector<int8_t> int8_of(const FileTensor& t);      // I8
std::vector<uint16_t> half_bits_of(const FileTensor& t);  // F16 bit patterns
std::vector<float> scales_of(const FileTensor& t);     // F16, BF16 or F32, decoded exactly to float32
// expect_tensor for a scale tensor, which may be F16 or BF16 (GPTQModel and compressed-tensors write the
// model's dtype), or with `allow_f32` also F32 (compressed-tensors' float32 models).
const FileTensor& expect_scales(const FileTensors& tensors, const std::string& name, const std::vector<int64_t>& shape,
                                bool allow_f32 = false);

}  // namespace qforge::exporters::hf::quant
