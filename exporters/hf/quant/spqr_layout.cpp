// SpQR's Hugging Face layout (docs/hf-quantized.md §9): spqr_quant's tensor_compress_interleaved word
// layout, sparse_util's merge_col_val, QuantizedLinear.from_legacy's uint16 pair packing of in_perm and
// dequantize_compressed's fp16 arithmetic; the config of convert_to_hf.py / transformers' SpQRConfig.
#include "exporters/hf/quant/spqr_layout.h"

#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/config_keys.h"
#include "fakequant/formats/half.h"

namespace qforge::exporters::hf::quant {
namespace {

constexpr int kBits = 3;
constexpr int kRecordShift = kBits * (kSpqrTile + 2);  // 54: after ws, wz and the 16 codes
constexpr int64_t kMaxColumns = 32768;                 // the kernels read a column as a signed 16-bit int

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::invalid_argument(name + ": SpQR " + what);
}

bool finite_half(uint16_t bits) { return (bits & 0x7C00) != 0x7C00; }

// fp16 operations as spqr_quant's host code performs them (each computed in float, rounded to nearest even).
uint16_t hsub(uint16_t a, uint16_t b) {
  return fakequant::encode_fp16(fakequant::decode_fp16(a) - fakequant::decode_fp16(b));
}
uint16_t hmul(uint16_t a, uint16_t b) {
  return fakequant::encode_fp16(fakequant::decode_fp16(a) * fakequant::decode_fp16(b));
}
uint16_t half_of(int64_t code) { return fakequant::encode_fp16(static_cast<float>(code)); }

int64_t groups(const SpqrWeight& w) { return w.in / kSpqrTile; }
int64_t tile_of(const SpqrWeight& w, int64_t row, int64_t column) {
  return (row / kSpqrTile) * groups(w) + column / kSpqrTile;
}

void check_count(const SpqrWeight& w, const char* field, size_t actual, int64_t expected) {
  if (static_cast<int64_t>(actual) != expected) {
    fail(w.name,
         std::string(field) + " has " + std::to_string(actual) + " values, expected " + std::to_string(expected));
  }
}

void check_codes(const SpqrWeight& w, const char* field, const std::vector<uint8_t>& codes) {
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] > 7)
      fail(w.name, std::string(field) + "[" + std::to_string(i) + "] = " + std::to_string(codes[i]) + " outside 0..7");
  }
}

void check_outliers(const SpqrWeight& w) {
  for (size_t k = 0; k < w.outliers.size(); ++k) {
    const SpqrOutlier& o = w.outliers[k];
    const std::string at =
        "outlier " + std::to_string(k) + " at [" + std::to_string(o.row) + ", " + std::to_string(o.column) + "]";
    if (o.row < 0 || o.row >= w.out || o.column < 0 || o.column >= w.in) fail(w.name, at + " is outside the weight");
    if (k > 0) {
      const SpqrOutlier& p = w.outliers[k - 1];
      if (o.row < p.row || (o.row == p.row && o.column <= p.column)) fail(w.name, at + " is out of CSR order");
    }
    if (!finite_half(o.value) || o.value == 0)
      fail(w.name, at + " has value bits " + std::to_string(o.value) + " (not finite, or +0)");
  }
}

// The tile's second-order record as one little-endian 64-bit value (4 fp16 in record order).
uint64_t record_of(const SpqrWeight& w, int64_t tile) {
  uint64_t v = 0;
  for (int f = 0; f < 4; ++f) v |= static_cast<uint64_t>(w.second_order[tile * 4 + f]) << (16 * f);
  return v;
}

uint64_t tile_row_word(const SpqrWeight& w, int64_t row, int64_t group) {
  const int64_t s = row * groups(w) + group;
  uint64_t word = static_cast<uint64_t>(w.scale_codes[s]) | static_cast<uint64_t>(w.zero_codes[s]) << kBits;
  for (int64_t l = 0; l < kSpqrTile; ++l) {
    word |= static_cast<uint64_t>(w.codes[row * w.in + group * kSpqrTile + l]) << (kBits * (l + 2));
  }
  // Rows 2b and 2b + 1 of a tile both carry byte b of the record: the kernel ORs the bytes of the even
  // rows (and, separately, of the odd rows) of a tile back together.
  const uint64_t byte = (record_of(w, tile_of(w, row, group * kSpqrTile)) >> (8 * ((row % kSpqrTile) / 2))) & 0xFF;
  return word | byte << kRecordShift;
}

}  // namespace

void validate(const SpqrWeight& w) {
  if (w.name.empty()) throw std::invalid_argument("SpQR: weight without a name");
  if (w.out <= 0 || w.in <= 0 || w.out % kSpqrTile != 0 || w.in % kSpqrTile != 0 || w.in > kMaxColumns) {
    fail(w.name, "shape [" + std::to_string(w.out) + ", " + std::to_string(w.in) +
                     "]: both must be positive multiples of 16 and in at most 32768");
  }
  check_count(w, "codes", w.codes.size(), w.out * w.in);
  check_count(w, "scale_codes", w.scale_codes.size(), w.out * groups(w));
  check_count(w, "zero_codes", w.zero_codes.size(), w.out * groups(w));
  check_count(w, "second_order", w.second_order.size(), w.out / kSpqrTile * groups(w) * 4);
  check_count(w, "permutation", w.permutation.size(), w.in);
  check_codes(w, "codes", w.codes);
  check_codes(w, "scale_codes", w.scale_codes);
  check_codes(w, "zero_codes", w.zero_codes);
  std::vector<bool> seen(static_cast<size_t>(w.in), false);
  for (size_t j = 0; j < w.permutation.size(); ++j) {
    const uint16_t c = w.permutation[j];
    if (c >= w.in || seen[c])
      fail(w.name, "permutation[" + std::to_string(j) + "] = " + std::to_string(c) + " is not a permutation");
    seen[c] = true;
  }
  for (size_t i = 0; i < w.second_order.size(); ++i) {
    if (!finite_half(w.second_order[i])) fail(w.name, "second_order[" + std::to_string(i) + "] is not finite");
  }
  check_outliers(w);
}

std::vector<FileTensor> pack_spqr(const SpqrWeight& w) {
  validate(w);
  std::vector<int64_t> words;
  words.reserve(static_cast<size_t>(w.out * groups(w)));
  for (int64_t block = 0; block < w.out / kSpqrTile; ++block) {
    for (int64_t g = 0; g < groups(w); ++g) {
      for (int64_t k = 0; k < kSpqrTile; ++k)
        words.push_back(static_cast<int64_t>(tile_row_word(w, block * kSpqrTile + k, g)));
    }
  }
  std::vector<int32_t> offsets(static_cast<size_t>(w.out + 1), 0), col_vals;
  for (const SpqrOutlier& o : w.outliers) {
    ++offsets[o.row + 1];
    col_vals.push_back(static_cast<int32_t>(static_cast<uint32_t>(o.value) << 16 | static_cast<uint32_t>(o.column)));
  }
  for (int64_t r = 0; r < w.out; ++r) offsets[r + 1] += offsets[r];
  std::vector<int32_t> perm(static_cast<size_t>(w.in / 2));
  for (size_t i = 0; i < perm.size(); ++i) {
    perm[i] = static_cast<int32_t>(static_cast<uint32_t>(w.permutation[2 * i + 1]) << 16 | w.permutation[2 * i]);
  }
  return {int64_tensor(w.name + ".dense_weights", {static_cast<int64_t>(words.size())}, words),
          int32_tensor(w.name + ".row_offsets", {w.out + 1}, offsets),
          int32_tensor(w.name + ".col_vals", {static_cast<int64_t>(col_vals.size())}, col_vals),
          int32_tensor(w.name + ".in_perm", {w.in / 2}, perm)};
}

namespace {

// Codes, statistics and the record bytes of the words of one tile back into `w`.
void read_tile(SpqrWeight& w, const std::vector<int64_t>& words, int64_t block, int64_t g, const std::string& tensor) {
  uint64_t record[2] = {0, 0};  // even rows, odd rows
  const int64_t tile = block * groups(w) + g;
  for (int64_t k = 0; k < kSpqrTile; ++k) {
    const auto word = static_cast<uint64_t>(words[tile * kSpqrTile + k]);
    const int64_t row = block * kSpqrTile + k, s = row * groups(w) + g;
    if (word >> (kRecordShift + 8) != 0)
      fail(w.name, tensor + ": unused bits 62-63 set in word " + std::to_string(tile * kSpqrTile + k));
    w.scale_codes[s] = word & 7;
    w.zero_codes[s] = (word >> kBits) & 7;
    for (int64_t l = 0; l < kSpqrTile; ++l) w.codes[row * w.in + g * kSpqrTile + l] = (word >> (kBits * (l + 2))) & 7;
    record[k % 2] |= ((word >> kRecordShift) & 0xFF) << (8 * (k / 2));
  }
  if (record[0] != record[1])
    fail(w.name,
         tensor + ": the even and odd rows of tile " + std::to_string(tile) + " carry different second-order records");
  for (int f = 0; f < 4; ++f) w.second_order[tile * 4 + f] = static_cast<uint16_t>(record[0] >> (16 * f));
}

}  // namespace

SpqrWeight unpack_spqr(const std::string& prefix, const FileTensors& tensors) {
  SpqrWeight w;
  w.name = prefix;
  const std::vector<int32_t> perm = int32_of(expect_tensor(tensors, prefix + ".in_perm", Dtype::kI32, {-1}));
  const std::vector<int32_t> offsets = int32_of(expect_tensor(tensors, prefix + ".row_offsets", Dtype::kI32, {-1}));
  w.in = 2 * static_cast<int64_t>(perm.size());
  w.out = static_cast<int64_t>(offsets.size()) - 1;
  if (w.in <= 0 || w.out <= 0 || w.out % kSpqrTile != 0) {
    throw std::invalid_argument(prefix + ".row_offsets: " + std::to_string(offsets.size()) + " offsets for n = " +
                                std::to_string(w.in) + " (CSR [m + 1] with m a multiple of 16 is read, not PTCSR)");
  }
  const std::vector<int64_t> words =
      int64_of(expect_tensor(tensors, prefix + ".dense_weights", Dtype::kI64, {w.out * w.in / kSpqrTile}));
  const std::vector<int32_t> col_vals = int32_of(expect_tensor(tensors, prefix + ".col_vals", Dtype::kI32, {-1}));
  for (uint32_t pair : perm)
    w.permutation.insert(w.permutation.end(), {static_cast<uint16_t>(pair), static_cast<uint16_t>(pair >> 16)});
  w.codes.resize(static_cast<size_t>(w.out * w.in));
  w.scale_codes.resize(static_cast<size_t>(w.out * groups(w)));
  w.zero_codes.resize(w.scale_codes.size());
  w.second_order.resize(static_cast<size_t>(w.out / kSpqrTile * groups(w) * 4));
  for (int64_t block = 0; block < w.out / kSpqrTile; ++block) {
    for (int64_t g = 0; g < groups(w); ++g) read_tile(w, words, block, g, prefix + ".dense_weights");
  }
  if (offsets[0] != 0 || offsets.back() != static_cast<int32_t>(col_vals.size())) {
    throw std::invalid_argument(prefix + ".row_offsets: runs from " + std::to_string(offsets[0]) + " to " +
                                std::to_string(offsets.back()) + ", expected 0 to " + std::to_string(col_vals.size()));
  }
  for (int64_t r = 0; r < w.out; ++r) {
    if (offsets[r + 1] < offsets[r])
      throw std::invalid_argument(prefix + ".row_offsets: decreases at row " + std::to_string(r));
    for (int32_t k = offsets[r]; k < offsets[r + 1]; ++k) {
      const auto cv = static_cast<uint32_t>(col_vals[k]);
      w.outliers.push_back({r, cv & 0xFFFF, static_cast<uint16_t>(cv >> 16)});
    }
  }
  validate(w);
  return w;
}

uint16_t spqr_dense_value(const SpqrWeight& w, int64_t row, int64_t column) {
  const int64_t tile = tile_of(w, row, column), s = row * groups(w) + column / kSpqrTile;
  const uint16_t* r = &w.second_order[tile * 4];  // scale.scale, zero.scale, scale.zero, zero.zero
  const uint16_t scale = hmul(r[0], hsub(half_of(w.scale_codes[s]), r[2]));
  const uint16_t zero = hmul(r[1], hsub(half_of(w.zero_codes[s]), r[3]));
  return hmul(scale, hsub(half_of(w.codes[row * w.in + column]), zero));
}

std::vector<float> dequantize_spqr(const SpqrWeight& w) {
  validate(w);
  std::vector<float> permuted(static_cast<size_t>(w.out * w.in));
  for (int64_t r = 0; r < w.out; ++r) {
    for (int64_t j = 0; j < w.in; ++j) permuted[r * w.in + j] = fakequant::decode_fp16(spqr_dense_value(w, r, j));
  }
  for (const SpqrOutlier& o : w.outliers) permuted[o.row * w.in + o.column] += fakequant::decode_fp16(o.value);
  std::vector<float> out(permuted.size());
  for (int64_t r = 0; r < w.out; ++r) {
    for (int64_t j = 0; j < w.in; ++j)
      out[r * w.in + w.permutation[j]] = fakequant::round_to_fp16(permuted[r * w.in + j]);
  }
  return out;
}

std::string spqr_config(const std::vector<FileTensor>& tensors,
                        const std::vector<std::string>& modules_to_not_convert) {
  nlohmann::json shapes = nlohmann::json::object();
  for (const FileTensor& t : tensors) {
    if (t.shape.size() != 1) throw std::invalid_argument(t.name + ": SpQR tensors are one-dimensional");
    shapes[t.name + ".shape"] = t.shape[0];
  }
  const nlohmann::json c = {{"quant_method", "spqr"}, {"bits", kBits},
                            {"beta1", kSpqrTile},     {"beta2", kSpqrTile},
                            {"shapes", shapes},       {"modules_to_not_convert", modules_to_not_convert}};
  return c.dump(2);
}

SpqrConfig spqr_options(const std::string& config_json) {
  const std::string layout = "spqr";
  const nlohmann::json c = parse_config(config_json, layout);
  expect_config_string(c, "quant_method", layout, layout);
  for (const auto& [key, expected] :
       {std::pair<const char*, int>{"bits", kBits}, {"beta1", kSpqrTile}, {"beta2", kSpqrTile}}) {
    if (config_value_or<int>(c, key, layout, expected) != expected) {
      throw std::invalid_argument("spqr quantization_config: key '" + std::string(key) + "' is not " +
                                  std::to_string(expected));
    }
  }
  return {config_value_or<std::map<std::string, int64_t>>(c, "shapes", layout, {}),
          config_value_or<std::vector<std::string>>(c, "modules_to_not_convert", layout, {})};
}

}  // namespace qforge::exporters::hf::quant
