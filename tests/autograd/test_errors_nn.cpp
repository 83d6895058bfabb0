// Error messages of the normalisation, rotary-embedding and attention ops: each names the op and
// the offending shapes or values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "tests/support/error_of.h"

namespace qforge::autograd {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using qforge::testing::error_of;

Variable ones(std::initializer_list<int64_t> dims) { return Variable(Tensor::full(Shape(dims), 1.0f), true); }


TEST(NnErrors, RmsNormWeightSize) {
  EXPECT_THAT(error_of([] { rms_norm(ones({2, 8}), ones({7})); }),
              AllOf(HasSubstr("rms_norm"), HasSubstr("weight shape [7] != [8]"), HasSubstr("[2, 8]")));
  EXPECT_THAT(error_of([] { rms_norm(ones({2, 8}), ones({1, 8})); }),
              AllOf(HasSubstr("rms_norm"), HasSubstr("[1, 8]")));
  EXPECT_THAT(error_of([] { rms_norm(Variable(Tensor::scalar(1.0f)), ones({1})); }), HasSubstr("rms_norm"));
}

TEST(NnErrors, LayerNormWeightAndBiasSize) {
  EXPECT_THAT(error_of([] { layer_norm(ones({3, 4}), ones({5}), ones({4})); }),
              AllOf(HasSubstr("layer_norm"), HasSubstr("weight shape [5] != [4]"), HasSubstr("[3, 4]")));
  EXPECT_THAT(error_of([] { layer_norm(ones({3, 4}), ones({4}), ones({3})); }),
              AllOf(HasSubstr("layer_norm"), HasSubstr("bias shape [3] != [4]")));
}

TEST(NnErrors, RopeOddHeadDim) {
  EXPECT_THAT(error_of([] { rope(ones({1, 2, 3, 5})); }),
              AllOf(HasSubstr("rope"), HasSubstr("head_dim 5 must be even"), HasSubstr("[1, 2, 3, 5]")));
  EXPECT_THAT(error_of([] { rope(ones({4})); }), AllOf(HasSubstr("rope"), HasSubstr("[4]")));
  EXPECT_THAT(error_of([] { rope(ones({1, 1, 2, 4}), 0.0f); }), AllOf(HasSubstr("rope"), HasSubstr("theta")));
}

TEST(NnErrors, AttentionHeadsNotMultipleOfKvHeads) {
  EXPECT_THAT(error_of([] { causal_attention(ones({1, 3, 4, 8}), ones({1, 2, 4, 8}), ones({1, 2, 4, 8})); }),
              AllOf(HasSubstr("causal_attention"), HasSubstr("heads 3 not a multiple of kv_heads 2"),
                    HasSubstr("q [1, 3, 4, 8]")));
}

TEST(NnErrors, AttentionShapeMismatch) {
  // k and v disagree
  EXPECT_THAT(error_of([] { causal_attention(ones({1, 2, 4, 8}), ones({1, 2, 4, 8}), ones({1, 2, 4, 6})); }),
              AllOf(HasSubstr("causal_attention"), HasSubstr("k and v shapes differ"), HasSubstr("v [1, 2, 4, 6]")));
  // q and k disagree in head_dim, seq and batch
  EXPECT_THAT(error_of([] { causal_attention(ones({1, 2, 4, 8}), ones({1, 2, 4, 6}), ones({1, 2, 4, 6})); }),
              AllOf(HasSubstr("causal_attention"), HasSubstr("head_dim"), HasSubstr("k [1, 2, 4, 6]")));
  EXPECT_THAT(error_of([] { causal_attention(ones({1, 2, 5, 8}), ones({1, 2, 4, 8}), ones({1, 2, 4, 8})); }),
              AllOf(HasSubstr("causal_attention"), HasSubstr("q [1, 2, 5, 8]")));
  EXPECT_THAT(error_of([] { causal_attention(ones({2, 2, 4, 8}), ones({1, 2, 4, 8}), ones({1, 2, 4, 8})); }),
              AllOf(HasSubstr("causal_attention"), HasSubstr("q [2, 2, 4, 8]")));
  // wrong rank
  EXPECT_THAT(error_of([] { causal_attention(ones({2, 4, 8}), ones({2, 4, 8}), ones({2, 4, 8})); }),
              AllOf(HasSubstr("causal_attention"), HasSubstr("4-D"), HasSubstr("q [2, 4, 8]")));
}

TEST(NnErrors, DropoutP) {
  EXPECT_THAT(error_of([] { dropout(ones({3}), 1.0f, 0); }), AllOf(HasSubstr("dropout"), HasSubstr("[0, 1)")));
  EXPECT_THAT(error_of([] { dropout(ones({3}), -0.5f, 0); }), AllOf(HasSubstr("dropout"), HasSubstr("-0.5")));
}

}  // namespace
}  // namespace qforge::autograd
