// The codecs' fixed-grid rounding (block_rounding.h). Compiled with -ffp-contract=off like the codecs,
// so each decoded value is computed with dequantize_row_<type>'s operations in its order.
#include "fakequant/formats/ggml/block_rounding.h"

#include <algorithm>
#include <cmath>

#include "fakequant/formats/ggml/block_common.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/formats/ggml/iq4_nl.h"
#include "fakequant/formats/ggml/q4_k.h"
#include "fakequant/formats/ggml/q6_k.h"
#include "fakequant/formats/ggml/q8_0.h"

namespace qforge::fakequant::ggml {
namespace {

// Q4_K: element e of the super-block sits in sub-block e / 32; chunk c = e / 64 holds it in byte
// qs[32c + e % 32], low nibble for e % 64 < 32 (q4_k.h).
void choose_q4_K(const float* x, const float* importance, void* block, float*) {
  quantize_row_q4_K(x, static_cast<block_q4_K*>(block), kQKK, importance);
}

float round_q4_K(void* block, const float*, int64_t e, float v) {
  auto& b = *static_cast<block_q4_K*>(block);
  uint8_t sc, m;
  get_scale_min_k4(static_cast<int>(e / 32), b.scales, &sc, &m);
  const float d = from_f16(b.d) * sc, dm = from_f16(b.dmin) * m;
  uint8_t& byte = b.qs[32 * (e / 64) + e % 32];
  const bool high = e % 64 >= 32;
  if (d) {
    const int level = level_q4_K(v, d, dm);
    byte = static_cast<uint8_t>(high ? (byte & 0x0F) | (level << 4) : (byte & 0xF0) | level);
  }
  const int q = high ? byte >> 4 : byte & 0xF;
  return d * q - dm;  // dequantize_row_q4_K: d1 * q - m1
}

// Q6_K: element e = 128h + 32k + l takes its low 4 bits from ql[64h + l + 32(k mod 2)] (low nibble for
// k < 2) and its high 2 bits from bits 2k of qh[32h + l]; its scale is scales[e / 16] (q6_k.h).
void choose_q6_K(const float* x, const float* importance, void* block, float*) {
  quantize_row_q6_K(x, static_cast<block_q6_K*>(block), kQKK, importance);
}

float round_q6_K(void* block, const float*, int64_t e, float v) {
  auto& b = *static_cast<block_q6_K*>(block);
  const int64_t h = e / 128, k = e % 128 / 32, l = e % 32;
  uint8_t& low = b.ql[64 * h + l + 32 * (k % 2)];
  uint8_t& high = b.qh[32 * h + l];
  const int shift = k < 2 ? 0 : 4;
  const float d = from_f16(b.d) * b.scales[e / 16];
  if (d) {
    const int level = level_q6_K(v, d);
    low = static_cast<uint8_t>((low & ~(0xF << shift)) | ((level & 0xF) << shift));
    high = static_cast<uint8_t>((high & ~(3 << (2 * k))) | ((level >> 4) << (2 * k)));
  }
  const int q = (((low >> shift) & 0xF) | (((high >> (2 * k)) & 3) << 4)) - 32;
  return d * q;  // dequantize_row_q6_K: d * sc[is] * q
}

// Q8_0: round-half-away of v·(1/d) with the f32 d (quantize_row_q8_0_ref), clamped to int8.
void choose_q8_0(const float* x, const float*, void* block, float* state) {
  quantize_row_q8_0_ref(x, static_cast<block_q8_0*>(block), 32, nullptr);
  state[0] = q8_0_scale(x).id;
}

float round_q8_0(void* block, const float* state, int64_t i, float v) {
  auto& b = *static_cast<block_q8_0*>(block);
  b.qs[i] = static_cast<int8_t>(std::clamp(std::round(v * state[0]), -128.0f, 127.0f));
  return b.qs[i] * from_f16(b.d);  // dequantize_row_q8_0
}

// IQ4_NL: the table index nearest to v·(1/d) with the f32 d (quantize_row_iq4_nl_ref).
void choose_iq4_nl(const float* x, const float* importance, void* block, float* state) {
  const float d = quantize_block_iq4_nl(x, importance, static_cast<block_iq4_nl*>(block));
  state[0] = d ? 1 / d : 0;
}

float round_iq4_nl(void* block, const float* state, int64_t i, float v) {
  auto& b = *static_cast<block_iq4_nl*>(block);
  uint8_t& byte = b.qs[i % 16];
  const int index = best_index_iq4nl(state[0] * v);
  byte = static_cast<uint8_t>(i < 16 ? (byte & 0xF0) | index : (byte & 0x0F) | (index << 4));
  return from_f16(b.d) * kValuesIQ4NL[index];  // dequantize_row_iq4_nl
}

constexpr BlockRounding kRoundings[] = {
    {kGgmlQ8_0, 32, sizeof(block_q8_0), &choose_q8_0, &round_q8_0},
    {kGgmlQ4_K, kQKK, sizeof(block_q4_K), &choose_q4_K, &round_q4_K},
    {kGgmlQ6_K, kQKK, sizeof(block_q6_K), &choose_q6_K, &round_q6_K},
    {kGgmlIQ4_NL, 32, sizeof(block_iq4_nl), &choose_iq4_nl, &round_iq4_nl},
};

}  // namespace

const BlockRounding* block_rounding(int ggml_type_id) {
  for (const BlockRounding& r : kRoundings)
    if (r.ggml_type_id == ggml_type_id) return &r;
  return nullptr;
}

}  // namespace qforge::fakequant::ggml
