// GPTQ on ggml codecs' grids (ptq/gptq_ggml.h): the file's bytes decode to exactly the weights GPTQ
// chose; without feedback (a diagonal Hessian) the bytes are the codec's own with diag(H) as its
// importance (llama-quantize with an imatrix: a wrong grid, scale search or packing shows here); with
// correlated inputs the layer's output error is at most 0.9 of that codec's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "fakequant/formats/ggml/block_types.h"
#include "ptq/gptq.h"
#include "ptq/gptq_ggml.h"

namespace qforge::ptq {
namespace {

namespace ggml = fakequant::ggml;

constexpr int64_t kRows = 24, kCols = 512, kTokens = 1024;

struct Data {
  std::vector<float> w, x;
  std::vector<double> h;
};

// Correlated, unequally scaled input columns (so the feedback matters) and a weight with a few outliers.
Data make_data(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Data d;
  d.w.resize(kRows * kCols);
  for (float& v : d.w) v = 0.05f * normal(rng);
  for (int k = 0; k < 6; ++k) d.w[rng() % d.w.size()] *= 8.0f;
  std::vector<float> scale(kCols), z(kCols);
  for (float& s : scale) s = 0.2f + 2.0f * static_cast<float>(rng() % 1000) / 1000.0f;
  d.x.resize(kTokens * kCols);
  for (int64_t t = 0; t < kTokens; ++t) {
    const float shared = normal(rng);
    for (float& v : z) v = normal(rng);
    for (int64_t j = 0; j < kCols; ++j) d.x[t * kCols + j] = scale[j] * (z[j] + 0.8f * shared + 0.5f * z[(j + 1) % kCols]);
  }
  HessianAccumulator acc(kCols);
  acc.add(d.x);
  d.h = acc.matrix();
  return d;
}

std::vector<float> decode(const ggml::EncodedRows& e) {
  const ggml::BlockType& type = ggml::block_type(static_cast<int>(e.ggml_type));
  std::vector<float> y(e.rows * e.cols);
  const int64_t row_bytes = ggml::row_bytes(type, e.cols);
  for (int64_t r = 0; r < e.rows; ++r) type.dequantize_row(e.bytes.data() + r * row_bytes, y.data() + r * e.cols, e.cols);
  return y;
}

// The codec on every row (what llama-quantize writes), with importance `imp` (nullptr: none).
std::vector<std::byte> codec_bytes(uint32_t ggml_type, const std::vector<float>& w, const float* imp) {
  const ggml::BlockType& type = ggml::block_type(static_cast<int>(ggml_type));
  const int64_t row_bytes = ggml::row_bytes(type, kCols);
  std::vector<std::byte> bytes(kRows * row_bytes);
  for (int64_t r = 0; r < kRows; ++r) type.quantize_row(w.data() + r * kCols, bytes.data() + r * row_bytes, kCols, imp);
  return bytes;
}

// ||(W - Q) X^T||^2 / tokens: the layer's output error on the calibration inputs.
double output_error(const Data& d, const std::vector<float>& q) {
  double total = 0;
  for (int64_t t = 0; t < kTokens; ++t) {
    for (int64_t r = 0; r < kRows; ++r) {
      double s = 0;
      for (int64_t j = 0; j < kCols; ++j) s += (static_cast<double>(d.w[r * kCols + j]) - q[r * kCols + j]) * d.x[t * kCols + j];
      total += s * s;
    }
  }
  return total / kTokens;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class GptqGgml : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GptqGgml, DiagonalHessianGivesTheCodecsBytesWithImportance) {
  const Data d = make_data(11);
  std::vector<double> diagonal(kCols * kCols, 0.0);
  std::vector<float> imp(kCols);
  for (int64_t c = 0; c < kCols; ++c) diagonal[c * kCols + c] = d.h[c * kCols + c], imp[c] = static_cast<float>(d.h[c * kCols + c]);
  for (bool weighted : {true, false}) {
    const GgmlGptqLayer q = gptq_quantize_ggml(d.w, kRows, kCols, diagonal, GetParam(), {.importance = weighted});
    const std::vector<std::byte> expected = codec_bytes(GetParam(), d.w, weighted ? imp.data() : nullptr);
    ASSERT_EQ(q.encoded.bytes.size(), expected.size());
    EXPECT_EQ(std::memcmp(q.encoded.bytes.data(), expected.data(), expected.size()), 0) << "weighted " << weighted;
    EXPECT_TRUE(same_bits(decode(q.encoded), q.weight));
  }
}

TEST_P(GptqGgml, FeedbackDecodesExactlyAndBeatsTheCodec) {
  const Data d = make_data(12);
  const GgmlGptqLayer q = gptq_quantize_ggml(d.w, kRows, kCols, d.h, GetParam(), {});
  EXPECT_TRUE(same_bits(decode(q.encoded), q.weight)) << "the bytes do not decode to GPTQ's weights";
  std::vector<float> imp(kCols);
  for (int64_t c = 0; c < kCols; ++c) imp[c] = static_cast<float>(d.h[c * kCols + c]);
  const ggml::EncodedRows codec{GetParam(), kRows, kCols, codec_bytes(GetParam(), d.w, imp.data())};
  const double gptq = output_error(d, q.weight), plain = output_error(d, decode(codec));
  std::printf("%s: output error GPTQ %.6g, codec with imatrix %.6g (ratio %.3f)\n",
              ggml::find_type(static_cast<int>(GetParam()))->name, gptq, plain, gptq / plain);
  EXPECT_LT(gptq, 0.9 * plain);
  EXPECT_GT(q.loss, 0.0);
}

INSTANTIATE_TEST_SUITE_P(Types, GptqGgml,
                         ::testing::Values(uint32_t{ggml::kGgmlQ4_K}, uint32_t{ggml::kGgmlQ6_K},
                                           uint32_t{ggml::kGgmlQ8_0}, uint32_t{ggml::kGgmlIQ4_NL}),
                         [](const auto& info) { return std::string(ggml::find_type(static_cast<int>(info.param))->name); });

TEST(GptqGgmlErrors, RefusesTypesWithoutRoundingAndPartialBlocks) {
  const Data d = make_data(13);
  EXPECT_THROW(gptq_quantize_ggml(d.w, kRows, kCols, d.h, ggml::kGgmlQ5_0, {}), std::invalid_argument);
  std::vector<float> w(kRows * 160, 0.1f);
  std::vector<double> h(160 * 160, 0.0);
  for (int c = 0; c < 160; ++c) h[c * 160 + c] = 1;
  try {
    gptq_quantize_ggml(w, kRows, 160, h, ggml::kGgmlQ4_K, {});
    FAIL() << "accepted 160 columns for q4_K";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cols 160 do not fill q4_K blocks of 256"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qforge::ptq
