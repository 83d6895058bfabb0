// Quantizer counters as int64 buffers: checkpoints of format 1 (counters in a float "state"
// parameter) still load, with the optimizer's quantizer group renumbered to match; a malformed
// legacy state is named; and a step count above 2^24 survives a checkpoint and decides freezing
// exactly (a float32 counter stops at 2^24: 2^24 + 1 rounds back to 2^24).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <fstream>
#include <random>

#include "autograd/ops.h"
#include "fakequant/qat.h"
#include "fakequant/quantizer_spec.h"
#include "layers/linear.h"
#include "trainers/checkpoint.h"
#include "trainers/lora_model.h"
#include "trainers/optimizer_factory.h"

namespace qforge::trainers {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kTwoTo24 = int64_t{1} << 24;

// checkpoint.cpp's writer as it was in format 1 (before `buffers`); for the same Checkpoint it writes
// the bytes the format-1 build wrote (checked against that build when format 2 was introduced).
struct TensorRecord {
  std::vector<int64_t> dims;
  std::vector<float> values;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive & dims & values;
  }
};

// The tensors as the format defines them: (dims, values) records.
std::vector<std::pair<std::string, TensorRecord>> records(const NamedTensors& tensors) {
  std::vector<std::pair<std::string, TensorRecord>> r;
  for (const auto& [name, t] : tensors) r.push_back({name, {t.shape().to_vector(), t.to_vector()}});
  return r;
}

void save_format_1(const std::filesystem::path& dir, const Checkpoint& c) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / kCheckpointFile, std::ios::binary | std::ios::trunc);
  boost::archive::binary_oarchive archive(out);
  const uint32_t magic = 0x51464350, version = 1;
  archive << magic << version << c.step << c.config_text << records(c.model) << records(c.optimizer) << c.counters
          << c.metadata;
}

// Format 2 (int64 buffers after the metadata, the optimizer state before the counters).
void save_format_2(const std::filesystem::path& dir, const Checkpoint& c) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / kCheckpointFile, std::ios::binary | std::ios::trunc);
  boost::archive::binary_oarchive archive(out);
  const uint32_t magic = 0x51464350, version = 2;
  archive << magic << version << c.step << c.config_text << records(c.model) << records(c.optimizer) << c.counters
          << c.metadata << c.buffers;
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_ckpt1_" + name + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = normal(rng);
  return t;
}

// A Linear with a learned (LSQ) weight scale and an LSQ+ input quantizer: both quantizers have
// optimizer state, the input one after the weight one's legacy "state".
std::shared_ptr<layers::Linear> quantized_linear() {
  auto linear = std::make_shared<layers::Linear>(8, 4, true, 3);
  fakequant::QuantRule rule{"*", fakequant::parse_scheme("int4:channel:lsq"), fakequant::parse_scheme("int8:tensor:asym:lsq_plus")};
  fakequant::prepare_qat(*linear, {rule});
  return linear;
}

config::OptimizerConfig adamw() {
  config::OptimizerConfig c;
  c.set_name("adamw");
  return c;
}

// One training step, so every learned scale has Adam moments.
void train_step(layers::Linear& linear, optim::Optimizer& optimizer) {
  const Variable y = linear.forward(Variable(random_tensor(Shape{5, 8}, 7)));
  Variable loss = autograd::sum(autograd::mul(y, y));
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
}

std::string quantizer_state(const std::string& quantizer) { return quantizer + "_quantizer.state"; }

TEST(CheckpointFormat1, QuantizerStateBecomesCountersAndOptimizerIsRenumbered) {
  auto linear = quantized_linear();
  auto optimizer = make_optimizer(adamw(), linear->named_parameters());
  train_step(*linear, *optimizer);
  std::vector<std::string> names;
  for (const auto& [name, p] : linear->named_parameters()) names.push_back(name);
  // Group 1 (quantizer parameters) today: 0 w.scale, 1 w.zero_point, 2 in.scale, 3 in.zero_point,
  // 4 in.observer_state. Format 1 had "state" after each zero_point: in.scale was 3, in.zero_point 4.
  ASSERT_THAT(names, ElementsAre("weight", "bias", "weight_quantizer.scale", "weight_quantizer.zero_point",
                                 "input_quantizer.scale", "input_quantizer.zero_point", "input_quantizer.observer_state"));
  const std::map<int, int> old_index{{0, 0}, {1, 1}, {2, 3}, {3, 4}, {4, 6}};
  const auto legacy_key = [&](const std::string& key) {
    if (key.rfind("group1.param", 0) != 0) return key;
    const size_t dot = key.find('.', 12);
    return "group1.param" + std::to_string(old_index.at(std::stoi(key.substr(12, dot - 12)))) + key.substr(dot);
  };

  Checkpoint legacy;
  legacy.step = 1;
  legacy.config_text = "trainer { steps: 2 }\n";
  for (const auto& [name, p] : linear->named_parameters()) {
    legacy.model.emplace_back(name, p.data().clone());
    if (name == "weight_quantizer.zero_point")
      legacy.model.emplace_back(quantizer_state("weight"), Tensor::from_vector(Shape{3}, {1.0f, 1.0f, 0.0f}));
    if (name == "input_quantizer.zero_point")  // 2^24 steps: still exact in float32
      legacy.model.emplace_back(quantizer_state("input"), Tensor::from_vector(Shape{3}, {1.0f, float(kTwoTo24), 1.0f}));
  }
  for (const auto& [key, t] : optimizer->state()) legacy.optimizer.emplace_back(legacy_key(key), t);
  for (const auto& [key, n] : optimizer->step_counts()) legacy.counters.emplace_back(legacy_key(key), n);
  EXPECT_THAT(legacy.counters, ::testing::Contains(std::pair<std::string, int64_t>("group1.param4.step", 1)));
  const auto dir = fresh_dir("upgrade");
  save_format_1(dir, legacy);

  const Checkpoint loaded = load_checkpoint(dir);
  EXPECT_THAT(loaded.buffers, ElementsAre(std::pair<std::string, std::vector<int64_t>>("weight_quantizer.counters", {1, 1, 0}),
                                          std::pair<std::string, std::vector<int64_t>>("input_quantizer.counters", {1, kTwoTo24, 1})));
  std::vector<std::string> loaded_names;
  for (const auto& [name, t] : loaded.model) loaded_names.push_back(name);
  EXPECT_EQ(loaded_names, names);
  EXPECT_EQ(loaded.counters, optimizer->step_counts());
  const NamedTensors expected_state = optimizer->state();
  ASSERT_EQ(loaded.optimizer.size(), expected_state.size());
  for (size_t i = 0; i < expected_state.size(); ++i) {
    EXPECT_EQ(loaded.optimizer[i].first, expected_state[i].first);
    EXPECT_EQ(loaded.optimizer[i].second.to_vector(), expected_state[i].second.to_vector()) << expected_state[i].first;
  }

  // A fresh model and optimizer take it as they would a format-2 checkpoint.
  auto resumed = quantized_linear();
  auto resumed_optimizer = make_optimizer(adamw(), resumed->named_parameters());
  load_run_weights(*resumed, config::RunConfig(), loaded, dir.string());
  resumed_optimizer->load_state(loaded.optimizer, loaded.counters);
  const auto quantizers = fakequant::quantizers_of(*resumed);
  ASSERT_EQ(quantizers.size(), 2u);
  EXPECT_EQ(quantizers[1].first, "input_quantizer");
  EXPECT_EQ(quantizers[1].second->observed_steps(), kTwoTo24);
  EXPECT_TRUE(quantizers[1].second->frozen());
  EXPECT_EQ(quantizers[0].second->observed_steps(), 1);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointFormat1, MalformedLegacyStateNamesTheFileAndTensor) {
  Checkpoint legacy;
  legacy.model.emplace_back("0.weight_quantizer.state", Tensor::from_vector(Shape{3}, {1.0f, 2.5f, 0.0f}));
  const auto dir = fresh_dir("malformed");
  save_format_1(dir, legacy);
  try {
    load_checkpoint(dir);
    FAIL() << "a fractional step count loaded";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / kCheckpointFile).string()));
    EXPECT_THAT(e.what(), HasSubstr("0.weight_quantizer.state: legacy quantizer state[1] = 2.5"));
  }
  std::filesystem::remove_all(dir);
}

// Observer-driven activation scales stop following the input once the quantizer has counted
// freeze_after_steps training forwards; here that limit lies beyond float32's last exact integer.
TEST(QuantizerCounters, StepsAboveTwoTo24SurviveACheckpointAndFreezeExactly) {
  fakequant::QuantizerSpec spec = fakequant::parse_scheme("int8:tensor:asym:minmax");
  spec.observer.freeze_after_steps = kTwoTo24 + 2;
  fakequant::Quantizer q(spec, fakequant::QuantizerRole::kActivation, Shape{1, 4}, "act");
  q.forward(Variable(random_tensor(Shape{8, 4}, 1)));
  layers::StateDict state = q.state_dict();
  state.buffers.at("counters")[1] = kTwoTo24;
  q.load_state_dict(state);

  Checkpoint c;
  for (const auto& [name, t] : q.state_dict()) c.model.emplace_back(name, t);
  for (const auto& [name, buffer] : q.named_buffers()) c.buffers.emplace_back(name, *buffer);
  const auto dir = fresh_dir("counters");
  save_checkpoint(dir, c);
  fakequant::Quantizer resumed(spec, fakequant::QuantizerRole::kActivation, Shape{1, 4}, "act");
  load_run_weights(resumed, config::RunConfig(), load_checkpoint(dir), dir.string());
  std::filesystem::remove_all(dir);
  EXPECT_EQ(resumed.observed_steps(), kTwoTo24);

  const auto scale_after = [&](float magnitude, uint64_t seed) {
    Tensor x = random_tensor(Shape{8, 4}, seed);
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] *= magnitude;
    resumed.forward(Variable(x));
    return resumed.current_params().scales[0];
  };
  const float first = scale_after(10.0f, 2);  // step 2^24 + 1: observed, not frozen
  EXPECT_EQ(resumed.observed_steps(), kTwoTo24 + 1);
  EXPECT_FALSE(resumed.frozen());
  const float second = scale_after(100.0f, 3);  // step 2^24 + 2: observed, then frozen
  EXPECT_GT(second, first);
  EXPECT_EQ(resumed.observed_steps(), kTwoTo24 + 2);
  EXPECT_TRUE(resumed.frozen());
  EXPECT_EQ(scale_after(1000.0f, 4), second);
  EXPECT_EQ(resumed.observed_steps(), kTwoTo24 + 2);
}

// save_checkpoint writes tensors straight from their storage; its bytes are those of the records
// (dims + std::vector<float>) the format was defined with.
TEST(CheckpointFormats, SavedBytesEqualTheRecordWriters) {
  Checkpoint c;
  c.step = 3;
  c.config_text = "trainer { steps: 4 }\n";
  c.model = {{"w", random_tensor(Shape{5, 7}, 4)}, {"empty", Tensor(Shape{0})}, {"s", random_tensor(Shape{1}, 5)}};
  c.buffers = {{"q.counters", {1, 2, 3}}};
  c.optimizer = {{"group0.param0.m", random_tensor(Shape{5, 7}, 6)}};
  c.counters = {{"group0.param0.step", 3}};
  c.metadata = {{"k", "v"}};
  const auto dir = fresh_dir("bytes"), records_dir = fresh_dir("records");
  save_checkpoint(dir, c);
  std::filesystem::create_directories(records_dir);
  {
    std::ofstream out(records_dir / kCheckpointFile, std::ios::binary | std::ios::trunc);
    boost::archive::binary_oarchive archive(out);
    const uint32_t magic = 0x51464350, version = 3;
    archive << magic << version << c.step << c.config_text << records(c.model) << c.counters << c.metadata << c.buffers
            << records(c.optimizer);
  }
  const auto bytes = [](const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string saved = bytes(dir / kCheckpointFile), expected = bytes(records_dir / kCheckpointFile);
  EXPECT_GT(saved.size(), 35u * 2 * 4);
  EXPECT_TRUE(saved == expected) << "save_checkpoint wrote " << saved.size() << " bytes, the record writer " << expected.size();
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(records_dir);
}

// Format 3 moved the optimizer state last; format-2 files load as before, and every format leaves the
// optimizer state out when the reader does not want it.
TEST(CheckpointFormats, Format2LoadsAndTheOptimizerIsOptional) {
  Checkpoint c;
  c.step = 7;
  c.config_text = "trainer { steps: 9 }\n";
  c.model = {{"w", random_tensor(Shape{3, 4}, 1)}, {"b", random_tensor(Shape{4}, 2)}};
  c.buffers = {{"q.counters", {1, 5, 0}}};
  c.optimizer = {{"group0.param0.m", random_tensor(Shape{3, 4}, 3)}};
  c.counters = {{"group0.param0.step", 7}};
  c.metadata = {{"tokenizer", "char"}};
  const auto old_dir = fresh_dir("format2"), new_dir = fresh_dir("format3");
  save_format_2(old_dir, c);
  save_checkpoint(new_dir, c);
  for (const auto& dir : {old_dir, new_dir}) {
    for (const CheckpointParts parts : {CheckpointParts::kAll, CheckpointParts::kWithoutOptimizer}) {
      const Checkpoint loaded = load_checkpoint(dir, parts);
      EXPECT_EQ(loaded.step, 7);
      EXPECT_EQ(loaded.config_text, c.config_text);
      ASSERT_EQ(loaded.model.size(), 2u);
      EXPECT_EQ(loaded.model[0].second.to_vector(), c.model[0].second.to_vector());
      EXPECT_EQ(loaded.model[1].second.to_vector(), c.model[1].second.to_vector());
      EXPECT_EQ(loaded.buffers, c.buffers);
      EXPECT_EQ(loaded.counters, c.counters);
      EXPECT_EQ(loaded.metadata, c.metadata);
      if (parts == CheckpointParts::kAll) {
        ASSERT_EQ(loaded.optimizer.size(), 1u);
        EXPECT_EQ(loaded.optimizer[0].second.to_vector(), c.optimizer[0].second.to_vector());
      } else {
        EXPECT_TRUE(loaded.optimizer.empty());
      }
    }
  }
  std::filesystem::remove_all(old_dir);
  std::filesystem::remove_all(new_dir);
}

}  // namespace
}  // namespace qforge::trainers
