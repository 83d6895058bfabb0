#pragma once
// SpQR Linear weights in the Hugging Face format (transformers `quant_method: "spqr"`, the spqr_quant
// package's QuantizedLinear; docs/hf-quantized.md §9): 3-bit codes and 3-bit first-order statistics in
// one 64-bit word per tile row (tiles of 16 rows x 16 permuted columns), the tile's fp16 second-order
// record spread over its words a byte per two rows, fp16 outliers in CSR, and the input permutation.
// Only bits 3 and beta1 = beta2 = 16 exist in this format.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "exporters/hf/quant/hf_quant.h"

namespace qforge::exporters::hf::quant {

inline constexpr int64_t kSpqrTile = 16;  // beta1 = beta2 = 16

struct SpqrOutlier {
  int64_t row = 0;
  int64_t column = 0;  // in the permuted column order
  uint16_t value = 0;  // fp16 bits, *added* to the dense value there
};

struct SpqrWeight {
  std::string name;            // module prefix P: "P.dense_weights", "P.row_offsets", "P.col_vals", "P.in_perm"
  int64_t out = 0, in = 0;     // m, n: multiples of 16, n <= 32768
  std::vector<uint8_t> codes;  // [out * in] 0..7, columns in the permuted order
  std::vector<uint8_t> scale_codes, zero_codes;  // [out * in / 16] 0..7: per row and 16-column group
  // [(out / 16) * (in / 16) * 4] fp16 bits per tile, tiles row-major: scale.scale, zero.scale,
  // scale.zero, zero.zero (s = scale.scale * (ws - scale.zero), z = zero.scale * (wz - zero.zero)).
  std::vector<uint16_t> second_order;
  std::vector<uint16_t> permutation;  // [in]: permuted position j reads input column permutation[j]
  std::vector<SpqrOutlier> outliers;  // rows ascending, columns strictly ascending within a row
};

// Throws std::invalid_argument "<name>: ..." on sizes that disagree, a shape the format cannot hold,
// codes outside 0..7, a permutation that is not one, second-order or outlier values that are not
// finite (or an outlier of +0, which the sparse kernels read as the end of a row), or outliers out of
// range or order.
void validate(const SpqrWeight& w);

// P.dense_weights I64 [out * in / 16], P.row_offsets I32 [out + 1] (CSR), P.col_vals I32 [nnz] (low 16
// bits the column, high 16 bits the fp16 value), P.in_perm I32 [in / 2] (uint16 pairs, low half first).
std::vector<FileTensor> pack_spqr(const SpqrWeight& w);
// The weight `prefix` back: n from P.in_perm, m from P.row_offsets. std::invalid_argument naming the
// tensor that is missing or malformed: the per-tile layout of row offsets (PTCSR) is not read, unused
// word bits must be 0 and the two words of each record byte must agree.
SpqrWeight unpack_spqr(const std::string& prefix, const FileTensors& tensors);

// W[out * in] in the original column order as spqr_quant's dequantize_compressed computes it: every
// step in fp16 (each operation rounded to nearest even: s = ss * (ws - sz), z = zs * (wz - zz),
// w = s * (q - z)), the outlier added in float32 and the sum rounded to fp16, then W[:, perm[j]] = W_perm[:, j].
std::vector<float> dequantize_spqr(const SpqrWeight& w);

// The dense (outlier-free) fp16 value at row r, permuted column j, by the same operations.
uint16_t spqr_dense_value(const SpqrWeight& w, int64_t row, int64_t column);

// config.json's quantization_config: {"quant_method": "spqr", "bits": 3, "beta1": 16, "beta2": 16,
// "shapes": {"<P>.<tensor>.shape": length} for every packed tensor in `tensors`, "modules_to_not_convert"}.
// modules_to_not_convert holds *weight* names ("lm_head.weight"): transformers compares them with
// "<module>.weight".
std::string spqr_config(const std::vector<FileTensor>& tensors, const std::vector<std::string>& modules_to_not_convert);

struct SpqrConfig {
  std::map<std::string, int64_t> shapes;
  std::vector<std::string> modules_to_not_convert;
};
// std::invalid_argument naming the key for anything but bits 3, beta1 = beta2 = 16.
SpqrConfig spqr_options(const std::string& config_json);

}  // namespace qforge::exporters::hf::quant
