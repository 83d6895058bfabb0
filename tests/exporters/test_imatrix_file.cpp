// llama.cpp imatrix files (docs/gguf.md §8): bit-exact round trips of the GGUF and legacy
// formats, files built by hand from the documented layouts, llama-quantize's importance rule, and
// errors that name the file, entry and offset.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/imatrix_file.h"

namespace qforge::exporters::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 50.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

Imatrix sample_imatrix() {
  std::mt19937 rng(7);
  Imatrix m;
  m.datasets = {"fortunes.txt", "more.txt"};
  m.chunk_count = 12;
  m.chunk_size = 64;
  m.entries["blk.0.attn_q.weight"] = {random_floats(256, rng), {768.0f}, random_floats(256, rng)};
  m.entries["blk.0.ffn_down.weight"] = {random_floats(768, rng), {768.0f}, {}};
  m.entries["blk.1.ffn_gate_exps.weight"] = {random_floats(3 * 32, rng), {100.0f, 0.0f, 17.0f}, {}};  // MoE: 3 experts
  return m;
}

// Little-endian byte builder for files written "by hand" from the documented layouts.
struct Bytes {
  std::vector<std::byte> data;
  template <class T> Bytes& put(T x) {
    const auto* p = reinterpret_cast<const std::byte*>(&x);
    data.insert(data.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& text32(const std::string& s) {  // legacy: i32 length + bytes
    put<int32_t>(static_cast<int32_t>(s.size()));
    for (char c : s) data.push_back(static_cast<std::byte>(c));
    return *this;
  }
  Bytes& text64(const std::string& s) {  // GGUF: u64 length + bytes
    put<uint64_t>(s.size());
    for (char c : s) data.push_back(static_cast<std::byte>(c));
    return *this;
  }
  Bytes& pad(size_t alignment) {
    while (data.size() % alignment) data.push_back(std::byte{0});
    return *this;
  }
};

fs::path write_temp(const std::string& name, const std::vector<std::byte>& bytes) {
  const fs::path path = fs::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(ImatrixFile, GgufRoundTripIsBitExact) {
  const Imatrix m = sample_imatrix();
  const std::vector<std::byte> bytes = serialize_gguf_imatrix(m);
  const Imatrix back = parse_gguf_imatrix(bytes, "memory");
  EXPECT_EQ(back, m);
  EXPECT_EQ(serialize_gguf_imatrix(back), bytes);
  const fs::path path = fs::temp_directory_path() / "qforge_imatrix_roundtrip.gguf";
  write_imatrix(path, m);
  EXPECT_EQ(read_gguf_imatrix(path), m);
  const auto importance = read_imatrix(path);
  EXPECT_EQ(importance, gguf_imatrix_importance(m));
  fs::remove(path);
}

TEST(ImatrixFile, LegacyRoundTripIsBitExact) {
  const LegacyImatrix legacy = to_legacy_imatrix(sample_imatrix());
  const std::vector<std::byte> bytes = serialize_legacy_imatrix(legacy);
  const LegacyImatrix back = parse_legacy_imatrix(bytes, "memory");
  EXPECT_EQ(back, legacy);
  EXPECT_EQ(serialize_legacy_imatrix(back), bytes);
  LegacyImatrix no_trailer = legacy;  // files of older llama-imatrix builds end after the entries
  no_trailer.has_trailer = false;
  no_trailer.last_call = 0;
  no_trailer.dataset.clear();
  EXPECT_EQ(parse_legacy_imatrix(serialize_legacy_imatrix(no_trailer), "memory"), no_trailer);
  const fs::path path = fs::temp_directory_path() / "qforge_imatrix_roundtrip.dat";
  write_imatrix(path, sample_imatrix());
  EXPECT_EQ(read_legacy_imatrix(path), legacy);
  fs::remove(path);
}

TEST(ImatrixFile, HandBuiltLegacyFileGivesQuantizeImportance) {
  Bytes b;
  b.put<int32_t>(2);
  b.text32("blk.0.attn_q.weight").put<int32_t>(4).put<int32_t>(3).put(8.0f).put(4.0f).put(2.0f);
  b.text32("blk.0.ffn_up.weight").put<int32_t>(0).put<int32_t>(2).put(0.25f).put(3.0f);  // ncall 0: values as is
  b.put<int32_t>(7).text32("calib.txt");
  const fs::path path = write_temp("qforge_imatrix_hand.dat", b.data);
  const LegacyImatrix legacy = read_legacy_imatrix(path);
  EXPECT_EQ(legacy.last_call, 7);
  EXPECT_EQ(legacy.dataset, "calib.txt");
  ASSERT_EQ(legacy.entries.size(), 2u);
  EXPECT_EQ(legacy.entries[0].ncall, 4);
  const auto importance = read_imatrix(path);
  EXPECT_EQ(importance.at("blk.0.attn_q.weight"), (std::vector<float>{2.0f, 1.0f, 0.5f}));
  EXPECT_EQ(importance.at("blk.0.ffn_up.weight"), (std::vector<float>{0.25f, 3.0f}));
  fs::remove(path);
}

// One tensor info: name, dims, type F32, offset.
void tensor_info(Bytes& b, const std::string& name, std::vector<uint64_t> dims, uint64_t offset) {
  b.text64(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) b.put<uint64_t>(d);
  b.put<uint32_t>(0).put<uint64_t>(offset);
}

TEST(ImatrixFile, HandBuiltGgufFileGivesQuantizeImportance) {
  Bytes b;
  b.data = {std::byte{'G'}, std::byte{'G'}, std::byte{'U'}, std::byte{'F'}};
  b.put<uint32_t>(3).put<uint64_t>(5).put<uint64_t>(4);  // version, 5 tensors, 4 keys
  b.text64("general.type").put<uint32_t>(8).text64("imatrix");
  b.text64("imatrix.datasets").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1).text64("calib.txt");
  b.text64("imatrix.chunk_count").put<uint32_t>(4).put<uint32_t>(3);
  b.text64("imatrix.chunk_size").put<uint32_t>(4).put<uint32_t>(512);
  // Data (offsets padded to 32): q in_sum2 [4] @0, q counts [1] @32, q in_sum [4] @64,
  // exps in_sum2 [2, 2] @96, exps counts [1, 2] @128.
  tensor_info(b, "blk.0.attn_q.weight.in_sum2", {4}, 0);
  tensor_info(b, "blk.0.attn_q.weight.counts", {1}, 32);
  tensor_info(b, "blk.0.attn_q.weight.in_sum", {4}, 64);
  tensor_info(b, "blk.0.ffn_up_exps.weight.in_sum2", {2, 2}, 96);
  tensor_info(b, "blk.0.ffn_up_exps.weight.counts", {1, 2}, 128);
  b.pad(32);
  b.put(4.0f).put(8.0f).put(12.0f).put(0.0f).pad(32);
  b.put(4.0f).pad(32);
  b.put(1.0f).put(-1.0f).put(2.0f).put(0.5f).pad(32);
  b.put(2.0f).put(4.0f).put(6.0f).put(8.0f).pad(32);
  b.put(2.0f).put(0.0f).pad(32);  // the second expert saw no token: importance 1 (gguf.cpp pads the last tensor too)
  const fs::path path = write_temp("qforge_imatrix_hand.gguf", b.data);
  const Imatrix m = read_gguf_imatrix(path);
  EXPECT_EQ(m.datasets, std::vector<std::string>{"calib.txt"});
  EXPECT_EQ(m.chunk_count, 3u);
  EXPECT_EQ(m.chunk_size, 512u);
  EXPECT_EQ(m.entries.at("blk.0.attn_q.weight").in_sum, (std::vector<float>{1.0f, -1.0f, 2.0f, 0.5f}));
  const auto importance = read_imatrix(path);
  EXPECT_EQ(importance.at("blk.0.attn_q.weight"), (std::vector<float>{1.0f, 2.0f, 3.0f, 0.0f}));
  EXPECT_EQ(importance.at("blk.0.ffn_up_exps.weight"), (std::vector<float>{1.0f, 2.0f, 1.0f, 1.0f}));
  EXPECT_EQ(serialize_gguf_imatrix(m), b.data);  // our writer lays the file out exactly as built by hand
  fs::remove(path);
}

TEST(ImatrixFile, LegacyConversionFollowsLlamaImatrix) {
  Imatrix m;
  m.chunk_size = 32;
  m.chunk_count = 3;
  m.datasets = {"a.txt", "b.txt"};
  m.entries["blk.0.attn_k.weight"] = {{100.0f, 50.0f}, {100.0f}, {}};  // 100 tokens -> ncall ceil(100/32) = 4
  m.entries["blk.0.unused.weight"] = {{1.0f}, {0.0f}, {}};              // no token: dropped
  const LegacyImatrix legacy = to_legacy_imatrix(m);
  ASSERT_EQ(legacy.entries.size(), 1u);
  EXPECT_EQ(legacy.entries[0].ncall, 4);
  EXPECT_EQ(legacy.entries[0].values, (std::vector<float>{4.0f, 2.0f}));  // (sum / count) * ncall
  EXPECT_EQ(legacy.last_call, 3);
  EXPECT_EQ(legacy.dataset, "b.txt");
  EXPECT_EQ(legacy_imatrix_importance(legacy).at("blk.0.attn_k.weight"), (std::vector<float>{1.0f, 0.5f}));
}

TEST(ImatrixFile, TruncatedLegacyFileNamesFileAndOffset) {
  const std::vector<std::byte> bytes = serialize_legacy_imatrix(to_legacy_imatrix(sample_imatrix()));
  for (size_t n = 0; n < bytes.size(); ++n) {
    // n == size minus the whole trailer is a valid file without trailer; everything else must fail.
    const std::span<const std::byte> cut(bytes.data(), n);
    try {
      (void)parse_legacy_imatrix(cut, "cut.dat");
      EXPECT_EQ(n, bytes.size() - 4 - 4 - std::string("more.txt").size()) << "parsed a truncation at byte " << n;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.dat"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("at byte"), std::string::npos) << e.what();
    }
  }
}

TEST(ImatrixFile, CorruptedLegacyCountsAreRejectedBeforeAllocating) {
  Bytes b;
  b.put<int32_t>(1).text32("blk.0.attn_q.weight").put<int32_t>(1).put<int32_t>(0x7fffffff).put(1.0f);
  try {
    (void)parse_legacy_imatrix(b.data, "huge.dat");
    FAIL() << "accepted nval 2^31-1";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("entry 0 ('blk.0.attn_q.weight') nval at byte 31"), std::string::npos) << e.what();
  }
  Bytes negative;
  negative.put<int32_t>(1).put<int32_t>(-5);
  EXPECT_THROW((void)parse_legacy_imatrix(negative.data, "neg.dat"), std::runtime_error);
  Bytes none;
  none.put<int32_t>(0);
  EXPECT_THROW((void)parse_legacy_imatrix(none.data, "empty.dat"), std::runtime_error);
}

TEST(ImatrixFile, GgufWithoutRequiredKeysOrPairsIsRejected) {
  Imatrix m = sample_imatrix();
  std::vector<std::byte> bytes = serialize_gguf_imatrix(m);
  // Rename the key "imatrix.chunk_size" in place: llama-quantize requires it.
  const std::string key = "imatrix.chunk_size";
  auto it = std::search(bytes.begin(), bytes.end(), reinterpret_cast<const std::byte*>(key.data()),
                        reinterpret_cast<const std::byte*>(key.data() + key.size()));
  ASSERT_NE(it, bytes.end());
  *(it + 8) = std::byte{'X'};
  try {
    (void)parse_gguf_imatrix(bytes, "nokey.gguf");
    FAIL() << "accepted a file without imatrix.chunk_size";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("imatrix: nokey.gguf: key imatrix.chunk_size: missing"), std::string::npos) << e.what();
  }
  const std::string counts = "blk.0.ffn_down.weight.counts";
  bytes = serialize_gguf_imatrix(m);
  it = std::search(bytes.begin(), bytes.end(), reinterpret_cast<const std::byte*>(counts.data()),
                   reinterpret_cast<const std::byte*>(counts.data() + counts.size()));
  ASSERT_NE(it, bytes.end());
  *(it + counts.size() - 1) = std::byte{'X'};  // ".countX": the in_sum2 has no counts
  try {
    (void)parse_gguf_imatrix(bytes, "nocounts.gguf");
    FAIL() << "accepted in_sum2 without counts";
  } catch (const std::runtime_error& e) {
    // The entry is named with the byte where its .in_sum2 data starts.
    const ParsedGguf parsed = parse_gguf(bytes, "nocounts.gguf");
    uint64_t sum2_at = 0;
    for (const TensorInfo& t : parsed.file.tensors)
      if (t.name == "blk.0.ffn_down.weight.in_sum2") sum2_at = parsed.data_start + t.offset;
    ASSERT_GT(sum2_at, 0u);
    EXPECT_NE(std::string(e.what()).find("imatrix: nocounts.gguf: entry 'blk.0.ffn_down.weight' at byte " +
                                         std::to_string(sum2_at) + ": mismatched sums and counts"),
              std::string::npos)
        << e.what();
  }
}

TEST(ImatrixFile, TruncatedGgufImatrixNeverCrashes) {
  const std::vector<std::byte> bytes = serialize_gguf_imatrix(sample_imatrix());
  // The padding after the last tensor is optional (the reader accepts a file that ends with the data).
  for (size_t n = 0; n + 32 < bytes.size(); n += 7) {
    EXPECT_THROW((void)parse_gguf_imatrix(std::span(bytes.data(), n), "cut.gguf"), std::runtime_error) << n;
  }
}

TEST(ImatrixFile, FormatComesFromTheExtension) {
  EXPECT_EQ(imatrix_format_for_path("x/imatrix.gguf"), ImatrixFormat::kGguf);
  EXPECT_EQ(imatrix_format_for_path("imatrix.dat"), ImatrixFormat::kLegacy);
  EXPECT_THROW((void)imatrix_format_for_path("imatrix.bin"), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::exporters::gguf
