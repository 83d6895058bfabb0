// fakequant::GroupIndexWeightQuantizer (fakequant/group_index_weight.h): the forward on a hand-worked
// 2 x 4 weight whose groups are not contiguous (g_idx {1, 0, 0, 1}), GPTQ's rounding (a true division,
// ties to even, clamped to the grid), the checkpoint path (install_saved_weight_quantizers, then a
// load fills it: the same forward), convert() refusing it by name, and the errors naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "fakequant/group_index_weight.h"
#include "fakequant/saved_weight_quantizers.h"
#include "fakequant/qat.h"
#include "layers/conv2d.h"
#include "layers/linear.h"

namespace qforge::fakequant {
namespace {

namespace ag = qforge::autograd;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// 2-bit grid (codes 0..3), groups of 2: columns 1 and 2 are group 0, columns 0 and 3 group 1.
GroupIndexState small_state() {
  GroupIndexState s;
  s.rows = 2, s.cols = 4, s.bits = 2, s.group_size = 2;
  s.g_idx = {1, 0, 0, 1};
  s.scales = {0.5f, 0.25f, 2.0f, 1.0f};  // [row][group]
  s.zeros = {1, 2, 0, 3};
  return s;
}

ag::Tensor weight(std::vector<float> values) {
  ag::Tensor t(ag::Shape{2, 4});
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

TEST(GroupIndexWeight, ForwardUsesEachColumnsGroup) {
  GroupIndexWeightQuantizer q(small_state());
  // Row 0: column 0 (group 1: s 0.25, z 2): 0.30 / 0.25 = 1.2 -> 1 + 2 = 3 -> 0.25;
  //        column 1 (group 0: s 0.5, z 1): 0.25 / 0.5 = 0.5, a tie -> 0 (even) + 1 = 1 -> 0;
  //        column 2 (group 0): 0.75 / 0.5 = 1.5, a tie -> 2 + 1 = 3 -> 1.0;
  //        column 3 (group 1): -1.0 / 0.25 = -4 -> -4 + 2 = -2, clamped to 0 -> -0.5.
  // Row 1: column 0 (group 1: s 1, z 3): -2.6 -> -3 + 3 = 0 -> -3; column 1 (group 0: s 2, z 0):
  //        3.0 / 2 = 1.5 -> 2 -> 4; column 2: 9.0 / 2 = 4.5 -> 4, clamped to 3 -> 6; column 3: 0.4 -> 0 + 3 -> 0.
  const ag::Tensor w = weight({0.30f, 0.25f, 0.75f, -1.0f, -2.6f, 3.0f, 9.0f, 0.4f});
  EXPECT_EQ(q.codes(w), (std::vector<int64_t>{3, 1, 3, 0, 0, 2, 3, 3}));
  EXPECT_EQ(q.forward(ag::Variable(w)).data().to_vector(), (std::vector<float>{0.25f, 0.0f, 1.0f, -0.5f, -3.0f, 4.0f, 6.0f, 0.0f}));
  // The forward's values are fixed points: the latent weight snapped to them gives them back.
  const ag::Tensor snapped = q.forward(ag::Variable(w)).data();
  EXPECT_EQ(q.forward(ag::Variable(snapped)).data().to_vector(), snapped.to_vector());
}

TEST(GroupIndexWeight, CheckpointRestoresTheQuantizer) {
  auto saved = std::make_shared<layers::Linear>(4, 2, false, 1);
  saved->replace_weight_quantizer(std::make_shared<GroupIndexWeightQuantizer>(small_state()));
  ag::Variable latent = saved->weight();
  latent.mutable_data() = weight({0.30f, 0.25f, 0.75f, -1.0f, -2.6f, 3.0f, 9.0f, 0.4f});
  const layers::StateDict state = saved->state_dict();
  EXPECT_EQ(state.buffers.at("weight_quantizer.g_idx"), (std::vector<int64_t>{1, 0, 0, 1}));

  layers::Sequential model;  // the layer under a name ("0"), as in a model
  auto loaded = std::make_shared<layers::Linear>(4, 2, false, 2);
  model.push_back(loaded);
  layers::StateDict named;
  for (const auto& [name, t] : state) named["0." + name] = t;
  for (const auto& [name, b] : state.buffers) named.buffers["0." + name] = b;
  EXPECT_EQ(install_saved_weight_quantizers(model, named.buffers), 1);
  model.load_state_dict(named);
  auto q = std::dynamic_pointer_cast<GroupIndexWeightQuantizer>(loaded->weight_quantizer());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->state().zeros, small_state().zeros);
  EXPECT_EQ(loaded->effective_weight().data().to_vector(), saved->effective_weight().data().to_vector());
  // convert() has no QuantizedTensor for scattered groups: it refuses by name rather than leave the weight out.
  EXPECT_THAT([&] { convert(model); }, ThrowsMessage<std::invalid_argument>(HasSubstr("convert: 0.weight: its weight quantizer")));
}

TEST(GroupIndexWeight, ErrorsNameTheField) {
  const auto refused = [](void (*edit)(GroupIndexState&), const std::string& message) {
    GroupIndexState s = small_state();
    edit(s);
    EXPECT_THAT([&] { GroupIndexWeightQuantizer q(s); }, ThrowsMessage<std::invalid_argument>(HasSubstr(message)));
  };
  refused([](GroupIndexState& s) { s.g_idx = {0, 0, 1}; }, "g_idx has 3 values, expected 4");
  refused([](GroupIndexState& s) { s.g_idx = {0, 2, 0, 1}; }, "g_idx 2 not in 0..1");
  refused([](GroupIndexState& s) { s.g_idx = {0, 0, 0, 1}; }, "group 0 has more than 2 columns");
  refused([](GroupIndexState& s) { s.scales[1] = 0.0f; }, "scale 0.000000 is not positive");
  refused([](GroupIndexState& s) { s.zeros[2] = 4; }, "zero 4 not in 0..3");
  refused([](GroupIndexState& s) { s.bits = 9; }, "bits 9 not in 2..8");
  GroupIndexWeightQuantizer q(small_state());
  EXPECT_THAT([&] { q.codes(ag::Tensor(ag::Shape{3, 4})); }, ThrowsMessage<std::invalid_argument>(HasSubstr("weight has 12 values, not 2 x 4")));
}

}  // namespace
}  // namespace qforge::fakequant
