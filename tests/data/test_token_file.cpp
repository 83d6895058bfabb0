// Token files: flat uint16/uint32 and llm.c-header round trips, format by extension, and the
// errors for sizes that are not a multiple of the width, bad headers and unknown extensions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "data/file_bytes.h"
#include "data/token_file.h"
#include "tests/data/errors.h"

namespace qforge::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::invalid_argument_of;
using testing::runtime_error_of;

class TokenFile : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("tokens"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};

TEST_F(TokenFile, FlatUint16RoundTripAndByteLayout) {
  const TokenIds ids = {0, 1, 258, 50256, 65535};
  write_token_file(path("train.bin"), ids);  // nanoGPT: .bin is flat uint16
  EXPECT_EQ(std::filesystem::file_size(path("train.bin")), 10u);
  EXPECT_EQ(read_token_file(path("train.bin")), ids);
  // Little-endian: 258 = 0x0102 is stored 02 01.
  const std::vector<uint8_t> bytes = read_file_bytes(path("train.bin"));
  EXPECT_EQ(bytes[4], 0x02);
  EXPECT_EQ(bytes[5], 0x01);
  write_token_file(path("x.u16"), ids);
  EXPECT_EQ(read_token_file(path("x.u16")), ids);
  EXPECT_EQ(resolve_token_format(path("x.u16"), TokenFormat::kAuto), TokenFormat::kUint16);
}

TEST_F(TokenFile, FlatUint32RoundTrip) {
  const TokenIds ids = {0, 65536, 128255, 0xFFFFFFFFu, 7};
  write_token_file(path("x.u32"), ids);
  EXPECT_EQ(std::filesystem::file_size(path("x.u32")), 20u);
  EXPECT_EQ(read_token_file(path("x.u32")), ids);
  write_token_file(path("x.raw"), ids, TokenFormat::kUint32);  // width chosen by the caller
  EXPECT_EQ(read_token_file(path("x.raw"), TokenFormat::kUint32), ids);
  // Read with the wrong width: 20 bytes give 10 uint16 halves.
  EXPECT_EQ(read_token_file(path("x.raw"), TokenFormat::kUint16).size(), 10u);
}

TEST_F(TokenFile, LlmcHeaderRoundTripAndSniffing) {
  const TokenIds gpt2 = {50256, 15496, 11, 995};
  write_token_file(path("tiny_train.bin"), gpt2, TokenFormat::kLlmcUint16);
  EXPECT_EQ(std::filesystem::file_size(path("tiny_train.bin")), 1024u + 8u);
  EXPECT_EQ(resolve_token_format(path("tiny_train.bin"), TokenFormat::kAuto), TokenFormat::kLlmcUint16);
  EXPECT_EQ(read_token_file(path("tiny_train.bin")), gpt2);
  const TokenIds llama3 = {128000, 9906, 1917};
  write_token_file(path("l3.bin"), llama3, TokenFormat::kLlmcUint32);
  EXPECT_EQ(resolve_token_format(path("l3.bin"), TokenFormat::kAuto), TokenFormat::kLlmcUint32);
  EXPECT_EQ(read_token_file(path("l3.bin")), llama3);
}

TEST_F(TokenFile, SizeNotAMultipleOfWidth) {
  write_file_bytes(path("odd.bin"), {1, 0, 2});
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("odd.bin")); }),
              AllOf(HasSubstr(path("odd.bin")), HasSubstr(": ids at byte 2: is 3 bytes, not a multiple of the 2-byte id width")));
  write_file_bytes(path("six.u32"), {1, 0, 0, 0, 2, 0});
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("six.u32")); }),
              AllOf(HasSubstr(path("six.u32")), HasSubstr(": ids at byte 4: is 6 bytes, not a multiple of the 4-byte id width")));
}

TEST_F(TokenFile, BadLlmcHeaders) {
  write_token_file(path("a.bin"), {1, 2, 3}, TokenFormat::kLlmcUint16);
  std::vector<uint8_t> bytes = read_file_bytes(path("a.bin"));
  bytes.pop_back();
  bytes.pop_back();
  write_file_bytes(path("cut.bin"), bytes);
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("cut.bin")); }),
              AllOf(HasSubstr(path("cut.bin")), HasSubstr(": llm.c token count at byte 8: header declares 3 tokens but holds 4 bytes")));
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("a.bin"), TokenFormat::kLlmcUint32); }),
              HasSubstr("tokens: " + path("a.bin") + ": llm.c magic at byte 0: is 20240520, expected 20240801"));
  bytes = read_file_bytes(path("a.bin"));
  bytes[4] = 2;  // version 2
  write_file_bytes(path("v2.bin"), bytes);
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("v2.bin")); }), HasSubstr(": llm.c version at byte 4: is 2, expected 1"));
  write_file_bytes(path("short.bin"), {0x48, 0xD5, 0x34, 0x01});
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("short.bin"), TokenFormat::kLlmcUint16); }),
              HasSubstr(": llm.c header at byte 0: is 4 bytes, shorter than the llm.c header of 1024"));
}

TEST_F(TokenFile, MissingFileAndUnknownExtension) {
  EXPECT_THAT(runtime_error_of([&] { read_token_file(path("none.bin")); }),
              AllOf(HasSubstr("missing file"), HasSubstr(path("none.bin"))));
  EXPECT_THAT(invalid_argument_of([&] { read_token_file(path("tokens.txt")); }),
              AllOf(HasSubstr(path("tokens.txt")), HasSubstr("extension '.txt'")));
  EXPECT_THAT(invalid_argument_of([&] { write_token_file(path("big.u16"), {1, 70000}); }),
              HasSubstr("id 70000 at position 1 does not fit uint16"));
}

}  // namespace
}  // namespace qforge::data
