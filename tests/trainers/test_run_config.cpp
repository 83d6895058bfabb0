// Run configs parse from protobuf text format, overrides set single fields, errors name the place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/error_of.h"
#include "trainers/run_config.h"

namespace qforge::trainers {
namespace {

using qforge::testing::error_of;
using ::testing::HasSubstr;

constexpr const char* kConfig = R"(
model { mlp { hidden: [256, 256] activation: "relu" } }
data { fashion_mnist {} batch_size: 128 }
optimizer { name: "adam" lr: 0.001 }
trainer { epochs: 3 seed: 7 }
)";

TEST(RunConfig, ParsesTextFormat) {
  const config::RunConfig run = parse_run_config(kConfig, "mlp.pbtxt");
  ASSERT_TRUE(run.model().has_mlp());
  EXPECT_EQ(run.model().mlp().hidden_size(), 2);
  EXPECT_EQ(run.model().mlp().hidden(1), 256);
  EXPECT_TRUE(run.data().has_fashion_mnist());
  EXPECT_EQ(run.data().batch_size(), 128);
  EXPECT_FLOAT_EQ(run.optimizer().lr(), 0.001f);
  EXPECT_EQ(run.trainer().seed(), 7u);
}

TEST(RunConfig, OverridesSetScalarsAndLists) {
  config::RunConfig run = parse_run_config(kConfig, "mlp.pbtxt");
  apply_override(run, "trainer.steps=200");
  apply_override(run, "optimizer.lr=3e-4");
  apply_override(run, "optimizer.nesterov=true");
  apply_override(run, "model.mlp.hidden=64,32,16");
  apply_override(run, "trainer.run_dir=/tmp/x");
  EXPECT_EQ(run.trainer().steps(), 200);
  EXPECT_FLOAT_EQ(run.optimizer().lr(), 3e-4f);
  EXPECT_TRUE(run.optimizer().nesterov());
  EXPECT_EQ(run.model().mlp().hidden_size(), 3);
  EXPECT_EQ(run.model().mlp().hidden(2), 16);
  EXPECT_EQ(run.trainer().run_dir(), "/tmp/x");
  // Round trip through text keeps everything.
  EXPECT_EQ(to_text(parse_run_config(to_text(run), "again")), to_text(run));
}

TEST(RunConfig, ErrorsNamePlaceAndField) {
  EXPECT_THAT(error_of([] { parse_run_config("trainer { stepz: 3 }", "bad.pbtxt"); }),
              HasSubstr("bad.pbtxt:1:"));
  EXPECT_THAT(error_of([] { parse_run_config("trainer { stepz: 3 }", "bad.pbtxt"); }), HasSubstr("stepz"));
  config::RunConfig run;
  EXPECT_THAT(error_of([&] { apply_override(run, "trainer.stepz=3"); }),
              HasSubstr("TrainerConfig has no field 'stepz'"));
  EXPECT_THAT(error_of([&] { apply_override(run, "trainer.steps=many"); }), HasSubstr("'many' is not a valid number"));
  EXPECT_THAT(error_of([&] { apply_override(run, "trainer=3"); }), HasSubstr("is a message"));
  EXPECT_THAT(error_of([&] { apply_override(run, "trainer.steps"); }), HasSubstr("expected path.to.field=value"));
  EXPECT_THAT(error_of([&] { apply_override(run, "optimizer.nesterov=maybe"); }), HasSubstr("not true or false"));
  EXPECT_THROW(load_run_config("/nonexistent/run.pbtxt"), std::runtime_error);
}

}  // namespace
}  // namespace qforge::trainers
