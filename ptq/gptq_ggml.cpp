// GPTQ on a ggml codec's grid (gptq_ggml.h): the column loop of ptq/gptq.cpp with block parameters from
// the codec's search and levels from its final rounding (fakequant/formats/ggml/block_rounding.h).
#include "ptq/gptq_ggml.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "fakequant/formats/ggml/block_types.h"
#include "ptq/inverse_hessian.h"

namespace qforge::ptq {
namespace {

namespace ggml = fakequant::ggml;

const ggml::BlockRounding& check(uint32_t type, const GgmlGptqOptions& options, int64_t rows, int64_t cols,
                                 size_t weights, size_t h) {
  const auto fail = [](const std::string& what) { throw std::invalid_argument("gptq ggml: " + what); };
  const ggml::BlockRounding* rounding = ggml::block_rounding(static_cast<int>(type));
  const ggml::BlockType* known = ggml::find_type(static_cast<int>(type));
  if (!rounding)
    fail("no fixed-grid rounding for ggml type " + std::string(known ? known->name : std::to_string(type)) +
         " (expected q8_0, q4_K, q6_K or iq4_nl)");
  if (rows <= 0 || cols <= 0 || weights != static_cast<size_t>(rows * cols))
    fail("weight has " + std::to_string(weights) + " values, not rows " + std::to_string(rows) + " x cols " + std::to_string(cols));
  if (cols % rounding->block_elements != 0)
    fail("cols " + std::to_string(cols) + " do not fill " + known->name + " blocks of " + std::to_string(rounding->block_elements));
  if (h != static_cast<size_t>(cols * cols)) fail("Hessian has " + std::to_string(h) + " values, not cols^2 = " + std::to_string(cols * cols));
  if (options.block_size <= 0) fail("block size " + std::to_string(options.block_size) + " must be positive");
  if (!(options.damp >= 0)) fail("damp " + std::to_string(options.damp) + " must be >= 0");
  return *rounding;
}

// The codec blocks of every row and the rounding state beside them.
struct Blocks {
  const ggml::BlockRounding& rounding;
  int64_t per_row;
  std::vector<std::byte> bytes;
  std::vector<float> state;
  void* block(int64_t r, int64_t b) { return bytes.data() + (r * per_row + b) * rounding.block_bytes; }
  float* state_of(int64_t r, int64_t b) { return state.data() + (r * per_row + b) * ggml::kStateFloats; }
};

// Every row's parameters for the codec block starting at column `first` (offset `i` in the batch `block`).
void choose_blocks(Blocks& blocks, const HessianMatrix& batch, int64_t i, int64_t first, const std::vector<float>& importance) {
  const int64_t n = blocks.rounding.block_elements;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t r = 0; r < batch.rows(); ++r) {
    for (int64_t e = 0; e < n; ++e) x[e] = static_cast<float>(batch(r, i + e));
    blocks.rounding.choose(x.data(), importance.empty() ? nullptr : importance.data() + first, blocks.block(r, first / n),
                           blocks.state_of(r, first / n));
  }
}

}  // namespace

GgmlGptqLayer gptq_quantize_ggml(std::span<const float> weight, int64_t rows, int64_t cols,
                                 std::span<const double> hessian, uint32_t ggml_type, const GgmlGptqOptions& options) {
  const ggml::BlockRounding& rounding = check(ggml_type, options, rows, cols, weight.size(), hessian.size());
  const int64_t n = rounding.block_elements;
  HessianMatrix w = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(weight.data(), rows, cols)
                        .cast<double>();
  HessianMatrix h = Eigen::Map<const HessianMatrix>(hessian.data(), cols, cols);
  std::vector<float> importance;  // diag(H) before dead inputs and dampening: 2 x the imatrix
  if (options.importance)
    for (int64_t c = 0; c < cols; ++c) importance.push_back(static_cast<float>(h(c, c)));
  for (int64_t c = 0; c < cols; ++c) {
    if (h(c, c) == 0) h(c, c) = 1, w.col(c).setZero();  // an input that is always 0: nothing to preserve
  }
  const HessianMatrix u = inverse_hessian_factor(std::move(h), options.damp, "gptq");

  Blocks blocks{rounding, cols / n, std::vector<std::byte>(static_cast<size_t>(rows * cols / n * rounding.block_bytes)),
                std::vector<float>(static_cast<size_t>(rows * cols / n * ggml::kStateFloats))};
  GgmlGptqLayer out;
  out.weight.resize(static_cast<size_t>(rows * cols));
  const int64_t batch_size = (options.block_size + n - 1) / n * n;
  for (int64_t i1 = 0; i1 < cols; i1 += batch_size) {
    const int64_t i2 = std::min(i1 + batch_size, cols), count = i2 - i1;
    HessianMatrix batch = w.middleCols(i1, count), errors(rows, count);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t j = i1 + i;
      if (j % n == 0) choose_blocks(blocks, batch, i, j, importance);
      const double d = u(j, j);
      for (int64_t r = 0; r < rows; ++r) {
        const double value = batch(r, i);
        const float q = rounding.round(blocks.block(r, j / n), blocks.state_of(r, j / n), j % n, static_cast<float>(value));
        out.weight[r * cols + j] = q;
        out.loss += (value - q) * (value - q) / (d * d) / 2;
        errors(r, i) = (value - q) / d;
      }
      batch.rightCols(count - i).noalias() -= errors.col(i) * u.row(j).segment(j, count - i);
    }
    if (i2 < cols) w.rightCols(cols - i2).noalias() -= errors * u.block(i1, i2, count, cols - i2);
  }
  out.encoded = {ggml_type, rows, cols, std::move(blocks.bytes)};
  return out;
}

}  // namespace qforge::ptq
