// Fast dequantization of blockwise 4-bit codes (blockwise_4bit.h). The 16-entry code table fits one
// AVX-512 register, so a lookup is one vpermps per 16 values: 32 code bytes are widened to 16-bit
// lanes, each lane rewritten as (byte >> 4) | (byte & 15) << 8 so that, read as bytes, the high
// nibble (the even element, bnb's order) comes first; four zero-extensions to 32 bits then index the
// table. Each value is table[code] * scale with a single rounding, the same product as the reference.
#include <algorithm>

#include "fakequant/formats/blockwise_4bit.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
// GCC 12's intrinsics start extracts from _mm*_undefined_*() and then warn about it
// (-Wmaybe-uninitialized false positive); nothing here reads an undefined lane.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qforge::fakequant {

namespace {

#if defined(__AVX512F__) && defined(__AVX512BW__)
constexpr int64_t kVectorElements = 64;

// out[2i] = table[bytes[i] >> 4] * scale, out[2i + 1] = table[bytes[i] & 15] * scale, i < 32.
inline void decode_64(const uint8_t* bytes, __m512 table, __m512 scale, float* out) {
  const __m512i wide = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bytes)));
  const __m512i low = _mm512_and_si512(wide, _mm512_set1_epi16(15));
  const __m512i ordered = _mm512_or_si512(_mm512_srli_epi16(wide, 4), _mm512_slli_epi16(low, 8));
  const __m128i q0 = _mm512_castsi512_si128(ordered);
  const __m128i q1 = _mm512_extracti32x4_epi32(ordered, 1);
  const __m128i q2 = _mm512_extracti32x4_epi32(ordered, 2);
  const __m128i q3 = _mm512_extracti32x4_epi32(ordered, 3);
  _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(q0), table), scale));
  _mm512_storeu_ps(out + 16, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(q1), table), scale));
  _mm512_storeu_ps(out + 32, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(q2), table), scale));
  _mm512_storeu_ps(out + 48, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(q3), table), scale));
}
#endif

// Elements [i0, i1) of one block, all with the same scale.
void decode_span(const Blockwise4Bit& q, int64_t i0, int64_t i1, float scale, float* out) {
  const std::array<float, 16>& table = four_bit_table(q.type);
  int64_t i = i0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  if (i % 2 == 1 && i < i1) {  // odd start: one low nibble first, then byte-aligned
    out[0] = table[q.codes[static_cast<size_t>(i / 2)] & 15] * scale;
    ++i;
  }
  const __m512 vtable = _mm512_loadu_ps(table.data());
  const __m512 vscale = _mm512_set1_ps(scale);
  for (; i + kVectorElements <= i1; i += kVectorElements) {
    decode_64(q.codes.data() + i / 2, vtable, vscale, out + (i - i0));
  }
#endif
  for (; i < i1; ++i) {
    const uint8_t byte = q.codes[static_cast<size_t>(i / 2)];
    out[i - i0] = table[i % 2 == 0 ? byte >> 4 : byte & 15] * scale;
  }
}

}  // namespace

void dequantize_blockwise_4bit(const Blockwise4Bit& q, int64_t begin, int64_t end, float* out) {
  for (int64_t i = begin; i < end;) {
    const int64_t block = i / q.block_size;
    const int64_t stop = std::min(end, (block + 1) * q.block_size);
    decode_span(q, i, stop, block_scale(q, block), out + (i - begin));
    i = stop;
  }
}

}  // namespace qforge::fakequant
