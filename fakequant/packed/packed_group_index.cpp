#include "fakequant/packed/packed_group_index.h"

#include <stdexcept>
#include <string>

namespace qforge::fakequant {

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
}

std::string PackedGroupIndexWeight::format() const {
  return "int" + std::to_string(state_.bits) + ":g" + std::to_string(state_.group_size);
}

int64_t PackedGroupIndexWeight::storage_bytes() const {
  return static_cast<int64_t>(words_.size() * sizeof(uint32_t) + state_.scales.size() * sizeof(float) +
                              (state_.zeros.size() + state_.g_idx.size()) * sizeof(int64_t));
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
    for (int64_t c = 0; c < state_.cols; ++c) {
      const int64_t p = r * groups + state_.g_idx[static_cast<size_t>(c)];
      row[c] = state_.scales[static_cast<size_t>(p)] * static_cast<float>(code(r, c) - state_.zeros[static_cast<size_t>(p)]);
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
