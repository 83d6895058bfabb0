// io::write_file_atomically: the previous file survives every failure bit for bit, no temporary is
// left behind, errors name the path and the cause, and stale temporaries of dead writers are swept.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "io/atomic_file.h"
#include "tests/support/temporaries.h"

namespace qforge::io {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& name)
      : path(fs::temp_directory_path() / ("qforge_io_" + name + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
};

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Every byte value, so text-mode translation or truncation at a NUL would show.
std::string all_bytes(int repeat) {
  std::string s;
  for (int r = 0; r < repeat; ++r)
    for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
  return s;
}

struct WriterFailed : std::runtime_error {
  WriterFailed() : std::runtime_error("writer failed") {}
};

TEST(AtomicFile, WriterThatThrowsHalfwayKeepsThePreviousFile) {
  const ScratchDir dir("throw");
  const fs::path path = dir.path / "model.bin";
  const std::string previous = all_bytes(3);
  write_file_atomically(path, previous);
  const std::string big(1 << 20, 'x');  // larger than the stream buffer: bytes reach the temporary
  EXPECT_THROW(write_file_atomically(path,
                                     [&](std::ostream& out) {
                                       out << big;
                                       throw WriterFailed();  // rethrown unchanged, not wrapped
                                     }),
               WriterFailed);
  EXPECT_EQ(read_all(path), previous);
  EXPECT_THAT(entries(dir.path), ElementsAre("model.bin"));
}

TEST(AtomicFile, SuccessfulWriteReplacesTheContent) {
  const ScratchDir dir("replace");
  const fs::path path = dir.path / "a.txt";
  write_file_atomically(path, std::string_view("a much longer first version\n"));
  write_file_atomically(path, [](std::ostream& out) { out << "second" << ' ' << 2; });
  EXPECT_EQ(read_all(path), "second 2");
  // Small puts, one block larger than the buffer, and a byte span all arrive in order.
  const std::string block = all_bytes(1000);
  write_file_atomically(path, [&](std::ostream& out) {
    out.put('<');
    out.write(block.data(), static_cast<std::streamsize>(block.size()));
    out << '>';
  });
  EXPECT_EQ(read_all(path), "<" + block + ">");
  const std::vector<std::byte> bytes{std::byte{0}, std::byte{255}, std::byte{10}};
  write_file_atomically(path, bytes);
  EXPECT_EQ(read_all(path), std::string("\0\xff\n", 3));
}

TEST(AtomicFile, TwoWritesInARowLeaveExactlyOneFile) {
  const ScratchDir dir("two");
  const fs::path path = dir.path / "report.md";
  write_file_atomically(path, std::string_view("one"));
  write_file_atomically(path, std::string_view("two"));
  EXPECT_THAT(entries(dir.path), ElementsAre("report.md"));
  EXPECT_EQ(read_all(path), "two");
}

// Tests run as root, so a read-only directory would not stop them: use parents that cannot hold files.
TEST(AtomicFile, UnwritableDirectoryNamesThePathAndLeavesNothing) {
  const ScratchDir dir("unwritable");
  const fs::path plain = dir.path / "plain_file";
  write_file_atomically(plain, std::string_view("x"));
  const fs::path under_file = plain / "out.gguf";
  try {
    write_file_atomically(under_file, std::string_view("data"));
    FAIL() << "wrote under a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(under_file.string() + ": cannot create temporary out.gguf.tmp."));
    EXPECT_THAT(e.what(), HasSubstr("Not a directory"));
  }
  const fs::path missing = dir.path / "no_such_dir" / "out.gguf";
  try {
    write_file_atomically(missing, std::string_view("data"));
    FAIL() << "wrote into a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(missing.string() + ": "));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  EXPECT_THAT(entries(dir.path), ElementsAre("plain_file"));
  EXPECT_EQ(read_all(plain), "x");
}

TEST(AtomicFile, FailedRenameRemovesTheTemporary) {
  const ScratchDir dir("rename");
  const fs::path path = dir.path / "results.csv";
  fs::create_directories(path / "occupied");  // a non-empty folder where the file should go
  try {
    write_file_atomically(path, std::string_view("a,b\n"));
    FAIL() << "renamed over a folder";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(path.string() + ": cannot rename results.csv.tmp."));
  }
  EXPECT_THAT(entries(dir.path), ElementsAre("results.csv"));
  EXPECT_TRUE(fs::is_directory(path / "occupied"));
}

TEST(AtomicFile, StreamErrorFailsTheWrite) {
  const ScratchDir dir("stream");
  const fs::path path = dir.path / "c.bin";
  write_file_atomically(path, std::string_view("kept"));
  try {
    write_file_atomically(path, [](std::ostream& out) {
      out << "partial";
      out.setstate(std::ios::badbit);  // what a failed formatter leaves behind
    });
    FAIL() << "a bad stream was committed";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), StartsWith(path.string() + ": write to c.bin.tmp."));
    EXPECT_THAT(e.what(), HasSubstr("failed (stream error)"));
  }
  EXPECT_EQ(read_all(path), "kept");
  EXPECT_THAT(entries(dir.path), ElementsAre("c.bin"));
}

TEST(AtomicFile, SweepsTemporariesOfDeadWritersOnly) {
  const ScratchDir dir("stale");
  const fs::path path = dir.path / "checkpoint.bin";
  const std::string mine = "checkpoint.bin.tmp." + std::to_string(::getpid()) + ".77";  // a live writer
  for (const std::string name : {"checkpoint.bin.tmp", "checkpoint.bin.tmp.999999999.3", mine.c_str(),
                                 "checkpoint.bin.tmpx", "other.bin.tmp", "checkpoint.bin.tmp.12.x"})
    write_file_atomically(dir.path / name, std::string_view("partial"));
  write_file_atomically(path, std::string_view("new"));
  std::vector<std::string> expected{"checkpoint.bin", "checkpoint.bin.tmp.12.x", "checkpoint.bin.tmpx", mine,
                                    "other.bin.tmp"};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(entries(dir.path), expected);
  EXPECT_EQ(remove_stale_temporaries(path), 0u);
}

TEST(AtomicFile, ConcurrentWritersOfOnePathNeverMix) {
  const ScratchDir dir("threads");
  const fs::path path = dir.path / "shared.bin";
  std::vector<std::string> payloads;
  for (char c : {'a', 'b', 'c', 'd'}) payloads.emplace_back(200000, c);
  std::vector<std::thread> threads;
  for (const std::string& p : payloads)
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) write_file_atomically(path, std::string_view(p));
    });
  for (auto& t : threads) t.join();
  const std::string result = read_all(path);
  EXPECT_NE(std::find(payloads.begin(), payloads.end(), result), payloads.end());
  EXPECT_THAT(qforge::testing::temporaries_of(path), IsEmpty());
}

}  // namespace
}  // namespace qforge::io
