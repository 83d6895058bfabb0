// Format-exact GGUF fake quantization (fakequant/fake_quant_ggml.h): the forward is the ggml codec's
// dequantize(quantize(row)) for every row, the backward is the identity, and the QAT rules select it
// per layer through the scheme names q8_0, q5_0, q4_k, q6_k, iq4_nl.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "autograd/ops.h"
#include "fakequant/fake_quant_ggml.h"
#include "fakequant/qat.h"
#include "layers/linear.h"
#include "layers/conv2d.h"
#include "tests/support/error_of.h"

namespace qforge::fakequant {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using ::testing::HasSubstr;
using qforge::testing::error_of;

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = normal(rng);
  return t;
}

const char* const kSchemes[] = {"q8_0", "q5_0", "q4_k", "q6_k", "iq4_nl"};

TEST(FakeQuantGgml, ForwardIsTheCodecsRoundTripRowByRow) {
  for (const char* scheme : kSchemes) {
    const QuantizerSpec spec = parse_scheme(scheme);
    const ggml::BlockType& type = ggml::block_type(spec.ggml_type);
    const int64_t rows = 7, k = 512;
    const Tensor w = random_tensor(Shape{rows, k}, 11, 0.05f);
    const Tensor y = fake_quant_ggml(Variable(w), type, "test").data();
    int64_t changed = 0;
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<unsigned char> blocks(static_cast<size_t>(ggml::row_bytes(type, k)));
      std::vector<float> expected(static_cast<size_t>(k));
      type.quantize_row(w.data() + r * k, blocks.data(), k, nullptr);
      type.dequantize_row(blocks.data(), expected.data(), k);
      ASSERT_EQ(std::memcmp(expected.data(), y.data() + r * k, sizeof(float) * k), 0) << scheme << " row " << r;
      for (int64_t j = 0; j < k; ++j) changed += expected[j] != w.data()[r * k + j];
    }
    EXPECT_GT(changed, rows * k / 2) << scheme << ": the forward must really quantize";
  }
}

TEST(FakeQuantGgml, BackwardIsStraightThrough) {
  const ggml::BlockType& type = ggml::block_type("q4_K");
  Variable w(random_tensor(Shape{3, 256}, 5, 0.1f), /*requires_grad=*/true);
  const Tensor upstream = random_tensor(Shape{3, 256}, 6);
  fake_quant_ggml(w, type, "test").backward(upstream);
  ASSERT_TRUE(w.has_grad());
  EXPECT_EQ(std::memcmp(w.grad().data(), upstream.data(), sizeof(float) * upstream.numel()), 0);
}

TEST(FakeQuantGgml, SchemesParseToBlockTypes) {
  EXPECT_EQ(parse_scheme("q4_k").ggml_type, 12);
  EXPECT_EQ(parse_scheme("q6_k").ggml_type, 14);
  EXPECT_EQ(parse_scheme("q8_0").ggml_type, 8);
  EXPECT_EQ(parse_scheme("q5_0").ggml_type, 6);
  EXPECT_EQ(parse_scheme("iq4_nl").ggml_type, 20);
  EXPECT_DOUBLE_EQ(parse_scheme("q4_k").bits_per_element(), 4.5);     // 144 bytes / 256
  EXPECT_DOUBLE_EQ(parse_scheme("q6_k").bits_per_element(), 6.5625);  // 210 bytes / 256
  EXPECT_DOUBLE_EQ(parse_scheme("q8_0").bits_per_element(), 8.5);     // 34 bytes / 32
  EXPECT_EQ(parse_scheme("q4_k").describe(), "gguf q4_K ste");
  EXPECT_THAT(error_of([] { parse_scheme("q4_k:g32"); }), HasSubstr("takes no modifiers"));
  EXPECT_FALSE(parse_scheme("int4:g32").is_ggml_block());
}

TEST(FakeQuantGgml, RulesSelectBlockTypesPerLayer) {
  auto net = std::make_shared<layers::Sequential>();
  net->push_back(std::make_shared<layers::Linear>(256, 64, true, 1));
  net->push_back(std::make_shared<layers::Linear>(64, 8, true, 2));
  QuantRule first{"0", parse_scheme("q4_k"), std::nullopt, false};
  QuantRule second{"1", parse_scheme("q8_0"), std::nullopt, false};
  prepare_qat(*net, {first, second});
  auto* layer = dynamic_cast<layers::Linear*>(net->named_modules()[0].second.get());
  ASSERT_NE(layer, nullptr);
  const Tensor effective = layer->effective_weight().data();
  const Tensor expected = fake_quant_ggml(Variable(layer->weight().data()), ggml::block_type("q4_K"), "t").data();
  EXPECT_EQ(std::memcmp(effective.data(), expected.data(), sizeof(float) * expected.numel()), 0);
  EXPECT_TRUE(convert(*net).weights.empty());  // block types are exported by exporters/gguf
}

TEST(FakeQuantGgml, ErrorsNameTheLayer) {
  auto net = std::make_shared<layers::Sequential>();
  net->push_back(std::make_shared<layers::Linear>(96, 8, true, 1));  // 96 is not a multiple of 256
  QuantRule k_quant{"0", parse_scheme("q4_k"), std::nullopt, false};
  const std::string message = error_of([&] { prepare_qat(*net, {k_quant}); });
  EXPECT_THAT(message, HasSubstr("rule '0' on 0 weight"));
  EXPECT_THAT(message, HasSubstr("multiple of 256"));
  EXPECT_THAT(message, HasSubstr("[8, 96]"));

  auto other = std::make_shared<layers::Sequential>();
  other->push_back(std::make_shared<layers::Linear>(64, 8, true, 1));
  QuantRule input{"0", std::nullopt, parse_scheme("q8_0"), false};
  EXPECT_THAT(error_of([&] { prepare_qat(*other, {input}); }), HasSubstr("is a weight format"));
}

}  // namespace
}  // namespace qforge::fakequant
