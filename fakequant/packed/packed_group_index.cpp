#include "fakequant/packed/packed_group_index.h"

#include <stdexcept>
#include <string>

#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
// GCC 12's intrinsics start gathers and extracts from _mm*_undefined_*() and then warn about it
// (-Wmaybe-uninitialized false positive); nothing here reads an undefined lane.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qforge::fakequant {
namespace {

// One row of 4-bit codes: column c is bits 4c .. 4c + 3 of the row's LSB-first stream, so byte k holds
// column 2k in its low nibble and 2k + 1 in its high one. Sixteen columns per step: 8 bytes split into
// nibbles, interleaved back into column order, widened to int32 and converted; then s · (q − z) with
// q − z exact in float (integers below 16), so the product rounds once, as the scalar formula does.
// A step whose 16 columns share one contiguous group broadcasts its scale and zero point; otherwise
// (act-order's scattered groups, or a group boundary inside the step) both are looked up by g_idx: in two
// registers holding the row's first 32 groups (vpermt2ps, a shuffle; a row of up to 32 groups, 4096
// columns at g128) or, for more groups, gathered from memory.
int64_t decode_row_4bit(const uint8_t* bytes, const float* scales, const float* zeros, const int32_t* g_idx,
                        bool contiguous, int64_t group_size, int64_t groups, int64_t cols, float* out) {
  int64_t c = 0;
#if defined(__AVX512F__) && defined(__AVX512BW__)
  const __m128i nibble = _mm_set1_epi8(15);
  const bool in_registers = groups <= 32;
  const __mmask16 lo_mask = static_cast<__mmask16>(groups >= 16 ? 0xFFFF : (1u << groups) - 1);
  const __mmask16 hi_mask = static_cast<__mmask16>(groups >= 32 ? 0xFFFF : groups <= 16 ? 0 : (1u << (groups - 16)) - 1);
  const __m512 s_lo = _mm512_maskz_loadu_ps(in_registers ? lo_mask : 0, scales);
  const __m512 s_hi = _mm512_maskz_loadu_ps(in_registers ? hi_mask : 0, scales + 16);
  const __m512 z_lo = _mm512_maskz_loadu_ps(in_registers ? lo_mask : 0, zeros);
  const __m512 z_hi = _mm512_maskz_loadu_ps(in_registers ? hi_mask : 0, zeros + 16);
  for (; c + 16 <= cols; c += 16) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes + c / 2));
    const __m128i lo = _mm_and_si128(b, nibble), hi = _mm_and_si128(_mm_srli_epi16(b, 4), nibble);
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)));
    __m512 s, z;
    if (contiguous && c / group_size == (c + 15) / group_size) {
      s = _mm512_set1_ps(scales[c / group_size]);
      z = _mm512_set1_ps(zeros[c / group_size]);
    } else if (in_registers) {
      const __m512i g = _mm512_loadu_si512(g_idx + c);
      s = _mm512_permutex2var_ps(s_lo, g, s_hi);
      z = _mm512_permutex2var_ps(z_lo, g, z_hi);
    } else {
      const __m512i g = _mm512_loadu_si512(g_idx + c);
      s = _mm512_i32gather_ps(g, scales, 4);
      z = _mm512_i32gather_ps(g, zeros, 4);
    }
    _mm512_storeu_ps(out + c, _mm512_mul_ps(s, _mm512_sub_ps(q, z)));
  }
#else
  (void)bytes, (void)scales, (void)zeros, (void)g_idx, (void)contiguous, (void)group_size, (void)groups, (void)cols, (void)out;
#endif
  return c;  // the columns done; the caller decodes the rest
}

}  // namespace

PackedGroupIndexWeight::PackedGroupIndexWeight(GroupIndexState state, const std::vector<int64_t>& codes)
    : state_(std::move(state)) {
  validate(state_);
  const int64_t n = state_.rows * state_.cols, maxq = (int64_t{1} << state_.bits) - 1;
  if (static_cast<int64_t>(codes.size()) != n)
    throw std::invalid_argument("group-index weight: " + std::to_string(codes.size()) + " codes, expected " + std::to_string(n));
  row_words_ = (state_.cols * state_.bits + 31) / 32;
  words_.assign(static_cast<size_t>(state_.rows * row_words_), 0);
  for (int64_t r = 0; r < state_.rows; ++r) {
    for (int64_t c = 0; c < state_.cols; ++c) {
      const int64_t q = codes[static_cast<size_t>(r * state_.cols + c)];
      if (q < 0 || q > maxq)
        throw std::invalid_argument("group-index weight: code " + std::to_string(q) + " at [" + std::to_string(r) + ", " +
                                    std::to_string(c) + "] not in 0.." + std::to_string(maxq));
      // Value c occupies stream bits [bits·c, bits·c + bits); a value may straddle two words.
      const int64_t bit = c * state_.bits;
      const uint64_t placed = static_cast<uint64_t>(q) << (bit % 32);
      uint32_t* w = &words_[static_cast<size_t>(r * row_words_ + bit / 32)];
      w[0] |= static_cast<uint32_t>(placed);
      if ((placed >> 32) != 0) w[1] |= static_cast<uint32_t>(placed >> 32);
    }
  }
  g_idx32_.assign(state_.g_idx.begin(), state_.g_idx.end());
  zeros_f_.assign(state_.zeros.begin(), state_.zeros.end());
  for (int64_t c = 0; c < state_.cols; ++c) contiguous_ = contiguous_ && state_.g_idx[static_cast<size_t>(c)] == c / state_.group_size;
}

std::string PackedGroupIndexWeight::format() const {
  return "int" + std::to_string(state_.bits) + ":g" + std::to_string(state_.group_size);
}

int64_t PackedGroupIndexWeight::storage_bytes() const {
  return static_cast<int64_t>(words_.size() * sizeof(uint32_t) + (state_.scales.size() + zeros_f_.size()) * sizeof(float) +
                              (state_.zeros.size() + state_.g_idx.size()) * sizeof(int64_t) + g_idx32_.size() * sizeof(int32_t));
}

int64_t PackedGroupIndexWeight::code(int64_t row, int64_t col) const {
  const int64_t bit = col * state_.bits;
  const uint32_t* w = &words_[static_cast<size_t>(row * row_words_ + bit / 32)];
  uint64_t window = w[0];
  if (bit % 32 + state_.bits > 32) window |= static_cast<uint64_t>(w[1]) << 32;
  return static_cast<int64_t>((window >> (bit % 32)) & ((uint64_t{1} << state_.bits) - 1));
}

void PackedGroupIndexWeight::dequantize_rows(int64_t row_begin, int64_t row_end, float* out) const {
  if (row_begin < 0 || row_end > state_.rows || row_begin > row_end) {
    throw std::out_of_range("PackedGroupIndexWeight::dequantize_rows: rows [" + std::to_string(row_begin) + ", " +
                            std::to_string(row_end) + ") outside [0, " + std::to_string(state_.rows) + ")");
  }
  const int64_t groups = state_.groups();
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* row = out + (r - row_begin) * state_.cols;
    const float* scales = state_.scales.data() + r * groups;
    const float* zeros = zeros_f_.data() + r * groups;
    int64_t c = 0;
    if (state_.bits == 4)
      c = decode_row_4bit(reinterpret_cast<const uint8_t*>(words_.data() + r * row_words_), scales, zeros,
                          g_idx32_.data(), contiguous_, state_.group_size, groups, state_.cols, row);
    for (; c < state_.cols; ++c) {
      const int32_t g = g_idx32_[static_cast<size_t>(c)];
      row[c] = scales[g] * (static_cast<float>(code(r, c)) - zeros[g]);
    }
  }
}

std::vector<int64_t> PackedGroupIndexWeight::codes() const {
  std::vector<int64_t> out(static_cast<size_t>(state_.rows * state_.cols));
  for (int64_t r = 0; r < state_.rows; ++r)
    for (int64_t c = 0; c < state_.cols; ++c) out[static_cast<size_t>(r * state_.cols + c)] = code(r, c);
  return out;
}

}  // namespace qforge::fakequant
