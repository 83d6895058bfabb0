// GGUF container: a tiny file written by hand from the spec (docs/gguf.md §1) and
// compared with the writer's output byte by byte, then read back.
#include <gtest/gtest.h>

#include <cstring>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"

namespace qforge::exporters::gguf {
namespace {

// Little-endian helpers for writing the expected bytes by hand.
void append(std::vector<uint8_t>& out, std::initializer_list<uint8_t> bytes) {
  for (uint8_t b : bytes) out.push_back(b);  // (insert() trips a GCC 12 -Wstringop-overflow false positive)
}
void append_u64(std::vector<uint8_t>& out, uint64_t x) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
void append_text(std::vector<uint8_t>& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

std::vector<uint8_t> handcrafted_file() {
  std::vector<uint8_t> b;
  append(b, {'G', 'G', 'U', 'F'});         // magic
  append(b, {0x03, 0x00, 0x00, 0x00});     // version u32 = 3
  append_u64(b, 1);                        // n_tensors
  append_u64(b, 3);                        // n_kv
  append_u64(b, 20);                       // key length
  append_text(b, "general.architecture");
  append(b, {0x08, 0x00, 0x00, 0x00});     // type string = 8
  append_u64(b, 5);
  append_text(b, "llama");
  append_u64(b, 17);
  append_text(b, "llama.block_count");
  append(b, {0x04, 0x00, 0x00, 0x00});     // type u32 = 4
  append(b, {0x02, 0x00, 0x00, 0x00});     // 2
  append_u64(b, 6);
  append_text(b, "scores");
  append(b, {0x09, 0x00, 0x00, 0x00});     // type array = 9
  append(b, {0x06, 0x00, 0x00, 0x00});     // element type f32 = 6
  append_u64(b, 2);                        // count
  append(b, {0x00, 0x00, 0xC0, 0x3F});     // 1.5f
  append(b, {0x00, 0x00, 0x80, 0xBF});     // -1.0f
  append_u64(b, 1);                        // tensor name length
  append_text(b, "w");
  append(b, {0x02, 0x00, 0x00, 0x00});     // n_dims = 2
  append_u64(b, 3);                        // ne[0] (fastest)
  append_u64(b, 1);                        // ne[1]
  append(b, {0x00, 0x00, 0x00, 0x00});     // ggml type F32 = 0
  append_u64(b, 0);                        // offset within the data section
  EXPECT_EQ(b.size(), 181u);
  b.resize(192, 0);                        // zero padding to the default alignment 32
  append(b, {0x00, 0x00, 0x80, 0x3F});     // 1.0f
  append(b, {0x00, 0x00, 0x00, 0xC0});     // -2.0f
  append(b, {0x00, 0x00, 0x40, 0x40});     // 3.0f
  b.resize(224, 0);                        // the last tensor is padded too
  return b;
}

GgufFile golden_model() {
  GgufFile file;
  file.set("general.architecture", "llama");
  file.set("llama.block_count", uint32_t{2});
  file.set("scores", make_array<float>({1.5f, -1.0f}));
  file.tensors.push_back({"w", {3, 1}, kGgmlF32, 0});
  return file;
}

const float kTensor[3] = {1.0f, -2.0f, 3.0f};

TEST(GgufGolden, WriterMatchesHandcraftedBytes) {
  const std::vector<uint8_t> expected = handcrafted_file();
  const std::span<const std::byte> data = std::as_bytes(std::span(kTensor));
  const std::vector<std::byte> written = serialize_gguf(golden_model(), std::vector{data});
  ASSERT_EQ(written.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(static_cast<uint8_t>(written[i]), expected[i]) << "first difference at byte " << i;
  }
}

TEST(GgufGolden, ReaderDecodesHandcraftedBytes) {
  const std::vector<uint8_t> raw = handcrafted_file();
  std::vector<std::byte> bytes(raw.size());
  std::memcpy(bytes.data(), raw.data(), raw.size());
  GgufReader reader(bytes, "golden");
  EXPECT_EQ(reader.file(), golden_model());
  EXPECT_EQ(reader.data_start(), 192u);
  EXPECT_EQ(reader.file().alignment(), 32u);
  const auto data = reader.tensor_data("w");
  ASSERT_EQ(data.size(), 12u);
  float values[3];
  std::memcpy(values, data.data(), 12);
  EXPECT_EQ(values[0], 1.0f);
  EXPECT_EQ(values[1], -2.0f);
  EXPECT_EQ(values[2], 3.0f);
}

TEST(GgufGolden, ExplicitAlignmentMovesTheDataSection) {
  GgufFile file = golden_model();
  file.set(kAlignmentKey, uint32_t{64});
  const std::span<const std::byte> data = std::as_bytes(std::span(kTensor));
  const std::vector<std::byte> written = serialize_gguf(file, std::vector{data});
  // 181 header bytes + the alignment KV (8 + 17 key + 4 type + 4 value = 33) = 214 -> data at 256,
  // tensor of 12 bytes padded to 64 -> 320 bytes.
  EXPECT_EQ(written.size(), 320u);
  GgufReader reader(written, "aligned");
  EXPECT_EQ(reader.data_start(), 256u);
  EXPECT_EQ(std::memcmp(reader.tensor_data(0).data(), kTensor, 12), 0);
}

TEST(GgufGolden, ErrorsNameFileFieldAndOffset) {
  std::vector<uint8_t> raw = handcrafted_file();
  raw[4] = 1;  // version 1 (32-bit counts; llama.cpp rejects it too)
  std::vector<std::byte> bytes(raw.size());
  std::memcpy(bytes.data(), raw.data(), raw.size());
  try {
    GgufReader reader(bytes, "golden.gguf");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "gguf: golden.gguf: version at byte 4: only GGUF versions 2 and 3 are supported, got 1");
  }
  raw = handcrafted_file();
  raw[24] = 0xFF;  // key length of kv[0] becomes 255
  std::memcpy(bytes.data(), raw.data(), raw.size());
  try {
    GgufReader reader(bytes, "golden.gguf");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "gguf: golden.gguf: kv[0] key at byte 24: string length 255 exceeds the 192 bytes left");
  }
  raw = handcrafted_file();
  raw[173] = 32;  // tensor offset 32: a gap current gguf.cpp rejects
  std::memcpy(bytes.data(), raw.data(), raw.size());
  try {
    GgufReader reader(bytes, "golden.gguf");
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "gguf: golden.gguf: tensor[0] 'w' offset at byte 173: 32 != expected 0 (data must follow "
                           "tensor-info order, each padded to the alignment)");
  }
}

}  // namespace
}  // namespace qforge::exporters::gguf
