// GGUF reader robustness: truncation at every byte and 2000 random byte corruptions of a small file.
// Every case must either parse or throw std::runtime_error: no crash, no other exception, and no
// allocation larger than the file could justify (counted by a replaced global operator new).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"

namespace {
std::atomic<size_t> g_largest_allocation{0};
}  // namespace

// GCC cannot see that these replacements pair up malloc and free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
// Replaced global allocation functions (all other forms forward to these two).
void* operator new(size_t size) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !g_largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace qforge::exporters::gguf {
namespace {

std::vector<std::byte> small_file() {
  GgufFile file;
  file.set("general.architecture", "llama");
  file.set(kAlignmentKey, uint32_t{32});
  file.set("llama.block_count", uint32_t{2});
  file.set("flag", true);
  file.set("tokenizer.ggml.tokens", make_array<std::string>({"<unk>", "<0x0A>", "ab"}));
  file.set("tokenizer.ggml.scores", make_array<float>({0.f, -1.f, -2.5f}));
  file.set("nested", Array{ValueType::kArray, {make_array<int64_t>({-1, 2}), make_array<bool>({true})}});
  file.set("pi", 3.14159);
  file.tensors.push_back({"a", {32, 2}, kGgmlQ8_0, 0});
  file.tensors.push_back({"norm", {3}, kGgmlF32, 0});
  std::vector<std::byte> q8(68, std::byte{0x11});
  std::vector<std::byte> f32(12, std::byte{0x3F});
  return serialize_gguf(file, std::vector<std::span<const std::byte>>{q8, f32});
}

enum class Outcome { kParsed, kThrew };

// Parses `bytes` and, if that succeeds, touches every tensor span (so ASan sees any bad span).
Outcome try_parse(std::vector<std::byte> bytes, const std::string& label) {
  try {
    GgufReader reader(std::move(bytes), label);
    unsigned sum = 0;
    for (const auto& span : reader.all_tensor_data()) {
      for (std::byte b : span) sum += static_cast<unsigned>(b);
    }
    volatile unsigned sink = sum;
    (void)sink;
    return Outcome::kParsed;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(label), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(" at byte "), std::string::npos) << e.what();
    return Outcome::kThrew;
  }
  // Any other exception type escapes and fails the test.
}

TEST(GgufFuzz, TruncationAtEveryByteThrows) {
  const std::vector<std::byte> file = small_file();
  ASSERT_NO_THROW(GgufReader(file, "full"));
  g_largest_allocation = 0;
  for (size_t length = 0; length < file.size(); ++length) {
    std::vector<std::byte> cut(file.begin(), file.begin() + static_cast<ptrdiff_t>(length));
    // Cutting inside the final padding leaves every tensor complete: that still parses.
    const Outcome outcome = try_parse(std::move(cut), "cut");
    GgufReader full(file, "full");
    const TensorInfo& last = full.file().tensors.back();
    const uint64_t last_end = full.data_start() + last.offset + 12;
    EXPECT_EQ(outcome, length >= last_end ? Outcome::kParsed : Outcome::kThrew) << "length " << length;
  }
  std::printf("truncation: %zu lengths, largest allocation %zu bytes (file %zu bytes)\n", file.size(),
              g_largest_allocation.load(), file.size());
  EXPECT_LT(g_largest_allocation.load(), 64u * 1024);
}

TEST(GgufFuzz, RandomByteCorruptionsParseOrThrow) {
  const std::vector<std::byte> file = small_file();
  std::mt19937 rng(20261123);
  int parsed = 0, threw = 0;
  g_largest_allocation = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<std::byte> bytes = file;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = rng() % bytes.size();
      // Half the time a single bit, half the time a whole byte (0xFF makes counts huge).
      bytes[at] = (rng() & 1) ? (bytes[at] ^ static_cast<std::byte>(1u << (rng() % 8)))
                              : static_cast<std::byte>(rng() % 3 == 0 ? 0xFF : rng() & 0xFF);
    }
    (try_parse(std::move(bytes), "flip") == Outcome::kParsed ? parsed : threw)++;
  }
  std::printf("2000 corruptions: %d parsed, %d threw std::runtime_error; largest allocation %zu bytes\n", parsed,
              threw, g_largest_allocation.load());
  EXPECT_EQ(parsed + threw, 2000);
  EXPECT_GT(threw, 500);  // most corruptions of the structure must be caught
  EXPECT_LT(g_largest_allocation.load(), 64u * 1024);
}

// Hand-placed worst cases: counts and lengths set to 2^64 - 1 or 2^63.
TEST(GgufFuzz, HugeCountsAreRejectedBeforeAllocating) {
  const std::vector<std::byte> file = small_file();
  g_largest_allocation = 0;
  for (size_t field_at : {size_t{8}, size_t{16}, size_t{24}}) {  // n_tensors, n_kv, first key length
    for (uint64_t huge : {~uint64_t{0}, uint64_t{1} << 63, uint64_t{1} << 40}) {
      std::vector<std::byte> bytes = file;
      std::memcpy(bytes.data() + field_at, &huge, 8);
      EXPECT_EQ(try_parse(bytes, "huge"), Outcome::kThrew) << field_at;
    }
  }
  EXPECT_LT(g_largest_allocation.load(), 64u * 1024);
}

// Deeply nested arrays (12 bytes per level) must not recurse without bound.
TEST(GgufFuzz, DeepArrayNestingIsRejected) {
  std::vector<std::byte> bytes = serialize_gguf(GgufFile{}, {});
  const uint64_t one_kv = 1;
  std::memcpy(bytes.data() + 16, &one_kv, 8);
  auto put = [&](const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes.insert(bytes.end(), b, b + n);
  };
  bytes.resize(24);
  const uint64_t key_length = 1;
  put(&key_length, 8);
  put("k", 1);
  const uint32_t array_type = 9;
  const uint64_t count = 1;
  put(&array_type, 4);
  for (int level = 0; level < 100000; ++level) {
    put(&array_type, 4);
    put(&count, 8);
  }
  EXPECT_EQ(try_parse(bytes, "deep"), Outcome::kThrew);
}

}  // namespace
}  // namespace qforge::exporters::gguf
