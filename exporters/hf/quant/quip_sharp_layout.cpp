// quip-sharp's saved QuantizedLinear (docs/hf-quantized.md §10): E8P12_codebook.maybe_pack_idxs' word
// layout, QuantizedLinear's buffers (SU, SV fp16; Wscale; codebook_id) and its forward's dequantization.
#include "exporters/hf/quant/quip_sharp_layout.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <stdexcept>

#include "exporters/hf/quant/bit_packing.h"
#include "exporters/hf/quant/config_keys.h"
#include "fakequant/formats/e8p.h"
#include "fakequant/formats/half.h"
#include "fakequant/hadamard.h"

namespace qforge::exporters::hf::quant {
namespace {

constexpr int64_t kCodeDim = fakequant::kE8pDim;  // weights per code
constexpr int64_t kPack = 4;                      // codes per int64

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::invalid_argument(name + ": QuIP# " + what);
}

bool finite_half(uint16_t bits) { return (bits & 0x7C00) != 0x7C00; }

void check_finite(const QuipSharpWeight& w, const char* field, const std::vector<uint16_t>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!finite_half(values[i])) fail(w.name, std::string(field) + "[" + std::to_string(i) + "] is not finite");
  }
}

// Unnormalized Sylvester Hadamard transform of x[0], x[stride], ..., x[(n - 1) stride] in place
// (np.kron order: H_2n = [[H_n, H_n], [H_n, -H_n]]). Exact on multiples of 1/4 below 2^50.
void sylvester_transform(double* x, int64_t n, int64_t stride) {
  for (int64_t len = 1; len < n; len *= 2) {
    for (int64_t start = 0; start < n; start += 2 * len) {
      for (int64_t j = start; j < start + len; ++j) {
        const double a = x[j * stride], b = x[(j + len) * stride];
        x[j * stride] = a + b;
        x[(j + len) * stride] = a - b;
      }
    }
  }
}

// quip-sharp's get_hadK (lib/utils/matmul_had.py) for the sizes written here: 1 for 2^k, 12 for 12 * 2^k
// (its had12; no larger factor of its list divides 12 * 2^k), 0 for any other size.
int64_t hadamard_k(int64_t n) {
  if (n > 0 && std::has_single_bit(static_cast<uint64_t>(n))) return 1;
  return n % 12 == 0 && std::has_single_bit(static_cast<uint64_t>(n / 12)) ? 12 : 0;
}

// x <- (H_K (x) S_{n/K}) x for x[0], x[stride], ..., unnormalized, with H_12 quip-sharp's get_had12()
// (matmul_hadU_cuda: Sylvester over the last n/K axis, then H_K @ the [K, n/K] view). That matrix is
// Paley's construction transposed, fakequant::paley_hadamard(12)^T (tests/exporters/
// hf_quant_reference_codebooks.py types quip-sharp's rows and checks), so qforge's transform
// (fakequant/hadamard.h, T = (paley (x) S) / sqrt(n)) is quip-sharp's H_in and T^T its H_out.
void hadamard_transform(double* x, int64_t n, int64_t stride) {
  const int64_t k = hadamard_k(n), m = n / k;
  for (int64_t a = 0; a < k; ++a) sylvester_transform(x + a * m * stride, m, stride);
  if (k == 1) return;
  static const std::vector<int8_t> paley = fakequant::paley_hadamard(12);
  std::vector<double> column(static_cast<size_t>(k));
  for (int64_t b = 0; b < m; ++b) {
    for (int64_t a = 0; a < k; ++a) {
      double sum = 0;
      for (int64_t c = 0; c < k; ++c) sum += paley[c * k + a] * x[(c * m + b) * stride];  // had12[a][c]
      column[a] = sum;
    }
    for (int64_t a = 0; a < k; ++a) x[(a * m + b) * stride] = column[a];
  }
}

// Position of word (r, c) of the [rows / 2, cols / 2] word grid in the stored [rows / 16, cols / 8, 8, 4] order.
int64_t word_position(int64_t r, int64_t c, int64_t cols) {
  return ((r / 8 * (cols / 8) + c / 4) * 8 + r % 8) * 4 + c % 4;
}

}  // namespace

namespace {

void check_shape(const QuipSharpWeight& w) {
  if (w.name.empty()) throw std::invalid_argument("QuIP#: weight without a name");
  if (w.out % 16 != 0 || w.in % 64 != 0 || hadamard_k(w.out) == 0 || hadamard_k(w.in) == 0) {
    fail(w.name, "shape [" + std::to_string(w.out) + ", " + std::to_string(w.in) +
                     "]: out a multiple of 16 and in of 64, each 2^k or 12 * 2^k (quip-sharp's other Hadamard "
                     "factors, 20, 28, ..., are not written)");
  }
}

}  // namespace

void validate(const QuipSharpWeight& w) {
  check_shape(w);
  const auto expect = [&](const char* field, size_t actual, int64_t expected) {
    if (static_cast<int64_t>(actual) != expected) {
      fail(w.name,
           std::string(field) + " has " + std::to_string(actual) + " values, expected " + std::to_string(expected));
    }
  };
  expect("codes", w.codes.size(), w.out * w.in / kCodeDim);
  expect("SU", w.su.size(), w.in);
  expect("SV", w.sv.size(), w.out);
  check_finite(w, "SU", w.su);
  check_finite(w, "SV", w.sv);
  if (!std::isfinite(w.wscale)) fail(w.name, "Wscale " + std::to_string(w.wscale) + " is not finite");
  for (float f : w.fuse_scales)
    if (!std::isfinite(f)) fail(w.name, "fuse scale " + std::to_string(f) + " is not finite");
}

std::vector<int64_t> pack_e8p_qidxs(const std::vector<uint16_t>& codes, int64_t rows, int64_t cols) {
  std::vector<int64_t> words(static_cast<size_t>(rows * cols / kPack));
  for (int64_t r = 0; r < rows / 2; ++r) {
    for (int64_t c = 0; c < cols / 2; ++c) {
      uint64_t word = 0;
      for (int64_t a = 0; a < 2; ++a) {
        for (int64_t b = 0; b < 2; ++b) {
          const uint64_t code = codes[(2 * r + a) * cols + 2 * c + b];
          word |= (code >> 8) << (8 * (a + 2 * b));                                           // abs row byte
          for (int j = 0; j < 8; ++j) word |= ((code >> j) & 1) << (32 + 4 * j + a + 2 * b);  // sign bits
        }
      }
      words[word_position(r, c, cols)] = static_cast<int64_t>(word);
    }
  }
  return words;
}

std::vector<uint16_t> unpack_e8p_qidxs(const std::vector<int64_t>& words, int64_t rows, int64_t cols) {
  std::vector<uint16_t> codes(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows / 2; ++r) {
    for (int64_t c = 0; c < cols / 2; ++c) {
      const auto word = static_cast<uint64_t>(words[word_position(r, c, cols)]);
      for (int64_t a = 0; a < 2; ++a) {
        for (int64_t b = 0; b < 2; ++b) {
          uint64_t code = ((word >> (8 * (a + 2 * b))) & 0xFF) << 8;
          for (int j = 0; j < 8; ++j) code |= ((word >> (32 + 4 * j + a + 2 * b)) & 1) << j;
          codes[(2 * r + a) * cols + 2 * c + b] = static_cast<uint16_t>(code);
        }
      }
    }
  }
  return codes;
}

std::vector<FileTensor> pack_quip_sharp(const QuipSharpWeight& w) {
  validate(w);
  const int64_t cols = w.in / kCodeDim;
  std::vector<FileTensor> out{int64_tensor(w.name + ".Qidxs", {w.out, cols / kPack}, pack_e8p_qidxs(w.codes, w.out, cols)),
          half_tensor(w.name + ".SU", {w.in}, w.su), half_tensor(w.name + ".SV", {w.out}, w.sv),
          float32_tensor(w.name + ".Wscale", {}, {w.wscale}),
          int64_tensor(w.name + ".codebook_id", {}, {kQuipSharpE8p12CodebookId})};
  if (!w.fuse_scales.empty())
    out.push_back(float32_tensor(w.name + ".fuse_scales", {static_cast<int64_t>(w.fuse_scales.size())}, w.fuse_scales));
  return out;
}

QuipSharpWeight unpack_quip_sharp(const std::string& prefix, const FileTensors& tensors) {
  QuipSharpWeight w;
  w.name = prefix;
  w.su = half_bits_of(expect_tensor(tensors, prefix + ".SU", Dtype::kF16, {-1}));
  w.sv = half_bits_of(expect_tensor(tensors, prefix + ".SV", Dtype::kF16, {-1}));
  w.in = static_cast<int64_t>(w.su.size());
  w.out = static_cast<int64_t>(w.sv.size());
  const int64_t id = int64_of(expect_tensor(tensors, prefix + ".codebook_id", Dtype::kI64, {}))[0];
  if (id != kQuipSharpE8p12CodebookId) {
    throw std::invalid_argument(prefix + ".codebook_id: " + std::to_string(id) +
                                " is not E8P12's 7 (RVQ codebooks are not read)");
  }
  for (const char* extra : {".scaleWH", ".A", ".B"}) {
    if (tensors.count(prefix + extra) != 0) {
      throw std::invalid_argument(prefix + extra + ": present; rescale_WH and low-rank layers are not read");
    }
  }
  if (tensors.count(prefix + ".fuse_scales") != 0) {  // F32 as written here; hfize_llama's .half() makes it F16
    const FileTensor& f = tensors.at(prefix + ".fuse_scales");
    if (f.dtype == Dtype::kF16) {
      for (uint16_t bits : half_bits_of(expect_tensor(tensors, prefix + ".fuse_scales", Dtype::kF16, {-1})))
        w.fuse_scales.push_back(fakequant::decode_fp16(bits));
    } else {
      w.fuse_scales = float32_of(expect_tensor(tensors, prefix + ".fuse_scales", Dtype::kF32, {-1}));
    }
  }
  w.wscale = float32_of(expect_tensor(tensors, prefix + ".Wscale", Dtype::kF32, {}))[0];
  check_shape(w);  // before the word layout is read
  const int64_t cols = w.in / kCodeDim;
  w.codes =
      unpack_e8p_qidxs(int64_of(expect_tensor(tensors, prefix + ".Qidxs", Dtype::kI64, {w.out, cols / kPack})), w.out, cols);
  validate(w);
  return w;
}

std::vector<float> dequantize_quip_sharp(const QuipSharpWeight& w, const std::vector<int64_t>& fuse_sizes) {
  validate(w);
  std::vector<int64_t> part_of(static_cast<size_t>(w.out), -1);  // the fuse scale of each row
  if (!w.fuse_scales.empty()) {
    int64_t row = 0;
    for (size_t p = 0; p < fuse_sizes.size() && p < w.fuse_scales.size(); ++p)
      for (int64_t r = 0; r < fuse_sizes[p] && row < w.out; ++r) part_of[row++] = static_cast<int64_t>(p);
    int64_t total = 0;
    for (int64_t n : fuse_sizes) total += n;
    if (fuse_sizes.size() != w.fuse_scales.size() || total != w.out)
      throw std::invalid_argument(w.name + ".fuse_scales: " + std::to_string(w.fuse_scales.size()) + " parts of " +
                                  std::to_string(w.out) + " rows, the model's module has " + std::to_string(fuse_sizes.size()) +
                                  " parts of " + std::to_string(total));
  }
  std::vector<double> m(static_cast<size_t>(w.out * w.in));
  for (size_t k = 0; k < w.codes.size(); ++k) {
    const std::array<double, fakequant::kE8pDim> v = fakequant::e8p_decode(w.codes[k]);
    std::copy(v.begin(), v.end(), m.begin() + static_cast<std::ptrdiff_t>(k * kCodeDim));
  }
  for (int64_t r = 0; r < w.out; ++r) hadamard_transform(&m[r * w.in], w.in, 1);  // G H_in^T
  for (int64_t c = 0; c < w.in; ++c) hadamard_transform(&m[c], w.out, w.in);      // H_out (G H_in^T)
  const double norm = std::sqrt(static_cast<double>(w.out * w.in));
  std::vector<float> out(m.size());
  for (int64_t r = 0; r < w.out; ++r) {
    // quip-sharp's forward multiplies its fp16 SV by Wscale in place: one fp16 rounding.
    const double sv = fakequant::decode_fp16(fakequant::encode_fp16(fakequant::decode_fp16(w.sv[r]) * w.wscale));
    const float fuse = part_of[r] < 0 ? 1.0f : w.fuse_scales[part_of[r]];
    for (int64_t c = 0; c < w.in; ++c) {
      const double product = m[r * w.in + c] * (sv * static_cast<double>(fakequant::decode_fp16(w.su[c])));
      out[r * w.in + c] = static_cast<float>(product / norm) * fuse;
    }
  }
  return out;
}

std::string quip_sharp_params() {
  const nlohmann::json p = {{"codebook", "E8P12"}, {"codebook_version", 1},      {"codesz", kCodeDim},
                            {"packsz", kPack},     {"idx_dtype", "torch.int64"}, {"lora_rank", 0},
                            {"rescale_WH", false}, {"resid_scale_override", -1}, {"model_version", 1}};
  return p.dump(2);
}

void check_quip_sharp_params(const std::string& quip_params_json) {
  const std::string layout = "quip_params";
  const nlohmann::json p = parse_config(quip_params_json, layout);
  expect_config_string(p, "codebook", "E8P12", layout);
  expect_config_string(p, "idx_dtype", "torch.int64", layout);
  for (const auto& [key, expected] : {std::pair<const char*, int64_t>{"codebook_version", 1},
                                      {"codesz", kCodeDim},
                                      {"packsz", kPack},
                                      {"lora_rank", 0}}) {
    if (config_value<int64_t>(p, key, layout) != expected) {
      throw std::invalid_argument("quip_params: key '" + std::string(key) + "' is not " + std::to_string(expected));
    }
  }
  if (config_value_or<bool>(p, "rescale_WH", layout, false) || config_value_or<bool>(p, "pack_out", layout, false)) {
    throw std::invalid_argument("quip_params: key 'rescale_WH' or 'pack_out' is true (not read)");
  }
}

}  // namespace qforge::exporters::hf::quant
