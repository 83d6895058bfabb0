// Checkpoints round-trip bit for bit, replace the previous one atomically, and name the file on errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "tests/support/temporaries.h"
#include "trainers/checkpoint.h"

namespace qforge::trainers {
namespace {

using autograd::Shape;
using autograd::Tensor;
using ::testing::HasSubstr;

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("qforge_ckpt_" + name + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

Checkpoint sample(int64_t step) {
  Checkpoint c;
  c.step = step;
  c.config_text = "trainer { steps: 10 }\n";
  c.model = {{"model.embed_tokens.weight", Tensor::randn(Shape{5, 3}, 1)}, {"lm_head.weight", Tensor::randn(Shape{3}, 2)}};
  c.optimizer = {{"group0.param0.exp_avg", Tensor::randn(Shape{5, 3}, 3)}};
  c.counters = {{"optimizer.step", step}, {"epoch", 2}};
  c.buffers = {{"model.layers.0.mlp.up_proj.weight_quantizer.counters", {1, (int64_t{1} << 40) + 3, 0}}};
  c.metadata = {{"train_windows", "12345 678"}, {"tokenizer.vocabulary", "abc\n\u00e9"}};
  return c;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.numel() * sizeof(float)) == 0;
}

TEST(Checkpoint, RoundTripIsBitExact) {
  const auto dir = fresh_dir("roundtrip");
  const Checkpoint saved = sample(42);
  save_checkpoint(dir, saved);
  const Checkpoint loaded = load_checkpoint(dir);
  EXPECT_EQ(loaded.step, 42);
  EXPECT_EQ(loaded.config_text, saved.config_text);
  ASSERT_EQ(loaded.model.size(), 2u);
  for (size_t i = 0; i < saved.model.size(); ++i) {
    EXPECT_EQ(loaded.model[i].first, saved.model[i].first);
    EXPECT_TRUE(same_bits(loaded.model[i].second, saved.model[i].second));
  }
  EXPECT_TRUE(same_bits(loaded.optimizer[0].second, saved.optimizer[0].second));
  EXPECT_EQ(loaded.counters, saved.counters);
  EXPECT_EQ(loaded.metadata, saved.metadata);
  EXPECT_EQ(loaded.buffers, saved.buffers);  // int64, exact far beyond float32's 2^24
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, NewCheckpointReplacesOldAndLeavesNoTemporary) {
  const auto dir = fresh_dir("replace");
  save_checkpoint(dir, sample(1));
  save_checkpoint(dir, sample(2));
  EXPECT_EQ(load_checkpoint(dir).step, 2);
  EXPECT_THAT(qforge::testing::temporaries_of(dir / "checkpoint.bin"), ::testing::IsEmpty());
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, StaleTemporariesAreIgnoredAndRemoved) {
  const auto dir = fresh_dir("interrupted");
  save_checkpoint(dir, sample(7));
  // A write killed midway leaves only a partial temporary file behind: the fixed name older builds
  // used, or a unique one whose process is gone (Linux pids stay below 2^22).
  std::ofstream(dir / "checkpoint.bin.tmp", std::ios::binary) << "partial";
  std::ofstream(dir / "checkpoint.bin.tmp.999999999.0", std::ios::binary) << "partial";
  EXPECT_EQ(load_checkpoint(dir).step, 7);
  save_checkpoint(dir, sample(8));  // the next save removes the stale temporaries
  EXPECT_EQ(load_checkpoint(dir).step, 8);
  EXPECT_THAT(qforge::testing::temporaries_of(dir / "checkpoint.bin"), ::testing::IsEmpty());
  std::filesystem::remove_all(dir);
}

// The real interruption: a child process saving a 64 MB checkpoint is killed with SIGKILL at 20 moments
// from 0 to 361 ms into the save. Every time the checkpoint left is the previous one (step 7) or the
// complete new one (step 8), never a torn file; and some kills must land mid-save, or the test proved
// nothing (a save_checkpoint writing straight to checkpoint.bin fails here).
TEST(Checkpoint, SaveKilledMidwayLeavesPreviousCheckpoint) {
  const auto dir = fresh_dir("killed");
  save_checkpoint(dir, sample(7));
  Checkpoint big = sample(8);
  big.model.emplace_back("model.big", Tensor::randn(Shape{1 << 24}, 4));  // 64 MB
  int interrupted = 0, completed = 0;
  for (int i = 0; i < 20; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      save_checkpoint(dir, big);
      ::_exit(0);
    }
    ::usleep(static_cast<useconds_t>(i * i * 1000));  // 0 to 361 ms: early, mid-write, fsync, rename, done
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const int64_t step = load_checkpoint(dir).step;  // throws on a torn file
    ASSERT_TRUE(step == 7 || step == 8) << "kill " << i << ": step " << step;
    if (step == 8) {
      ++completed;
      save_checkpoint(dir, sample(7));
    } else if (WIFSIGNALED(status)) {
      ++interrupted;
    }
  }
  EXPECT_GT(interrupted, 0) << "no kill landed before the save finished";
  std::printf("killed saves: %d interrupted (previous checkpoint kept), %d completed first\n", interrupted, completed);
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, ErrorsNameTheFile) {
  const auto dir = fresh_dir("errors");
  try {
    load_checkpoint(dir);
    FAIL() << "missing checkpoint did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "checkpoint.bin").string()));
  }
  save_checkpoint(dir, sample(3));
  std::filesystem::resize_file(dir / "checkpoint.bin", 60);  // truncated
  try {
    load_checkpoint(dir);
    FAIL() << "truncated checkpoint did not throw";
  } catch (const std::runtime_error& e) {
    // The file, the part of the checkpoint the cut falls in, and the byte where the file ends.
    EXPECT_THAT(e.what(), HasSubstr("checkpoint: " + (dir / "checkpoint.bin").string() + ": "));
    EXPECT_THAT(e.what(), HasSubstr(" at byte 60: the file ends here, inside "));
  }
  std::ofstream(dir / "checkpoint.bin", std::ios::binary) << "this is not an archive at all";
  EXPECT_THROW(load_checkpoint(dir), std::runtime_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qforge::trainers
