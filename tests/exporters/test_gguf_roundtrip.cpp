// GGUF container: write -> read round trips of every value type and of tensors of several ggml types.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "tests/support/temporaries.h"

namespace qforge::exporters::gguf {
namespace {

std::vector<std::byte> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> bytes(n);
  for (auto& b : bytes) b = static_cast<std::byte>(rng() & 0xFF);
  return bytes;
}

GgufFile every_value_type_file() {
  GgufFile file;
  file.set("general.architecture", "llama");
  file.set("v.u8", uint8_t{200});
  file.set("v.i8", int8_t{-100});
  file.set("v.u16", uint16_t{60000});
  file.set("v.i16", int16_t{-30000});
  file.set("v.u32", uint32_t{4000000000u});
  file.set("v.i32", int32_t{-2000000000});
  file.set("v.f32", 3.25f);
  file.set("v.bool_true", true);
  file.set("v.bool_false", false);
  file.set("v.string", std::string("h\xC3\xA9llo, \0world", 14));
  file.set("v.empty_string", std::string());
  file.set("v.u64", uint64_t{18000000000000000000ull});
  file.set("v.i64", int64_t{-9000000000000000000ll});
  file.set("v.f64", -1.0e-300);
  file.set("a.u8", make_array<uint8_t>({0, 1, 255}));
  file.set("a.i8", make_array<int8_t>({-128, 127}));
  file.set("a.u16", make_array<uint16_t>({1, 65535}));
  file.set("a.i16", make_array<int16_t>({-32768, 5}));
  file.set("a.u32", make_array<uint32_t>({7, 8, 9}));
  file.set("a.i32", make_array<int32_t>({-1, 2, -3}));
  file.set("a.f32", make_array<float>({0.5f, -0.0f, 1e30f}));
  file.set("a.bool", make_array<bool>({true, false, true}));
  file.set("a.string", make_array<std::string>({"<0x0A>", "", "token"}));
  file.set("a.u64", make_array<uint64_t>({~0ull}));
  file.set("a.i64", make_array<int64_t>({-5}));
  file.set("a.f64", make_array<double>({2.5, -7.0}));
  file.set("a.empty_i32", make_array<int32_t>({}));
  Array nested{ValueType::kArray, {make_array<uint32_t>({1, 2}), make_array<uint32_t>({})}};
  file.set("a.nested", nested);
  file.set("a.nested_strings", Array{ValueType::kArray, {make_array<std::string>({"x", "y"})}});
  return file;
}

TEST(GgufRoundTrip, EveryValueTypeSurvivesWriteAndRead) {
  const GgufFile file = every_value_type_file();
  const std::vector<std::byte> bytes = serialize_gguf(file, {});
  GgufReader reader(bytes, "memory");
  EXPECT_EQ(reader.file().metadata.size(), 30u);
  EXPECT_EQ(reader.file(), file);
  // Order is insertion order, types are kept exactly (u32 is not widened, bool stays bool).
  for (size_t i = 0; i < file.metadata.size(); ++i) {
    EXPECT_EQ(reader.file().metadata[i].key, file.metadata[i].key);
    EXPECT_EQ(reader.file().metadata[i].value.type(), file.metadata[i].value.type()) << file.metadata[i].key;
  }
  EXPECT_EQ(reader.file().find("v.string")->get<std::string>().size(), 14u);
  EXPECT_EQ(serialize_gguf(reader.file(), {}), bytes);
}

struct TensorCase {
  std::string name;
  uint32_t type;
  std::vector<uint64_t> dims;
  uint64_t expected_bytes;
};

TEST(GgufRoundTrip, TensorsOfSeveralTypesAreByteIdenticalViaFile) {
  // Byte sizes from the block table: F32 4 B/elem, F16 2, BF16 2, Q8_0 34 per 32, Q4_K 144 per 256,
  // Q6_K 210 per 256, IQ4_NL 18 per 32, Q5_0 22 per 32.
  const std::vector<TensorCase> cases = {
      {"output_norm.weight", kGgmlF32, {7}, 28},
      {"token_embd.weight", kGgmlF16, {5, 3}, 30},
      {"blk.0.attn_q.weight", kGgmlQ8_0, {64, 3}, 204},
      {"blk.0.ffn_up.weight", kGgmlQ4_K, {512, 2}, 576},
      {"blk.0.ffn_down.weight", kGgmlQ6_K, {256, 3, 1, 2}, 1260},
      {"blk.0.attn_v.weight", kGgmlIQ4_NL, {32, 1}, 18},
      {"blk.0.attn_k.weight", kGgmlQ5_0, {96, 2}, 132},
      {"blk.0.attn_output.weight", kGgmlBF16, {3, 3}, 18},
  };
  for (uint32_t alignment : {32u, 64u, 1u}) {
    GgufFile file;
    file.set("general.architecture", "llama");
    if (alignment != 32) file.set(kAlignmentKey, alignment);
    std::vector<std::vector<std::byte>> data;
    for (size_t i = 0; i < cases.size(); ++i) {
      file.tensors.push_back({cases[i].name, cases[i].dims, cases[i].type, 0});
      ASSERT_EQ(ggml_tensor_bytes(cases[i].type, cases[i].dims), cases[i].expected_bytes) << cases[i].name;
      data.push_back(random_bytes(cases[i].expected_bytes, static_cast<uint32_t>(i)));
    }
    const std::vector<std::span<const std::byte>> spans(data.begin(), data.end());
    const auto path = std::filesystem::temp_directory_path() / ("qforge_gguf_roundtrip_" + std::to_string(alignment) + ".gguf");
    write_gguf_file(path, file, spans);
    ASSERT_THAT(qforge::testing::temporaries_of(path), ::testing::IsEmpty());
    GgufReader reader(path);
    ASSERT_EQ(reader.file().tensors.size(), cases.size());
    const std::vector<uint64_t> offsets = layout_offsets(file);
    EXPECT_EQ(reader.data_start() % alignment, 0u);
    for (size_t i = 0; i < cases.size(); ++i) {
      const TensorInfo& info = reader.file().tensors[i];
      EXPECT_EQ(info.name, cases[i].name);
      EXPECT_EQ(info.dims, cases[i].dims);
      EXPECT_EQ(info.type, cases[i].type);
      EXPECT_EQ(info.offset, offsets[i]);
      EXPECT_EQ(info.offset % alignment, 0u);
      const auto bytes = reader.tensor_data(cases[i].name);
      ASSERT_EQ(bytes.size(), data[i].size());
      EXPECT_EQ(std::memcmp(bytes.data(), data[i].data(), bytes.size()), 0) << cases[i].name;
    }
    // Re-writing the read model gives the identical file.
    const std::vector<std::byte> original = serialize_gguf(file, spans);
    EXPECT_EQ(std::filesystem::file_size(path), original.size());
    EXPECT_EQ(serialize_gguf(reader.file(), reader.all_tensor_data()), original);
    std::filesystem::remove(path);
  }
}

TEST(GgmlTypes, BlockTableMatchesGgmlCommonStructs) {
  // {id, elements, bytes} recomputed from the block structs of ggml-common.h (ggml_half = 2 bytes,
  // QK_K = 256, K_SCALE_SIZE = 12) and the ids of ggml.h.
  const std::vector<std::array<uint32_t, 3>> expected = {
      {0, 1, 4}, {1, 1, 2}, {2, 32, 2 + 16}, {3, 32, 4 + 16}, {6, 32, 2 + 4 + 16}, {7, 32, 4 + 4 + 16},
      {8, 32, 2 + 32}, {10, 256, 16 + 64 + 4}, {11, 256, 32 + 64 + 12 + 2}, {12, 256, 4 + 12 + 128},
      {13, 256, 4 + 12 + 32 + 128}, {14, 256, 128 + 64 + 16 + 2}, {20, 32, 2 + 16}, {24, 1, 1}, {25, 1, 2},
      {26, 1, 4}, {27, 1, 8}, {28, 1, 8}, {30, 1, 2},
      // IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ3_S, IQ2_S, IQ4_XS, IQ1_M, TQ1_0, TQ2_0
      {16, 256, 2 + 64}, {17, 256, 2 + 64 + 8}, {18, 256, 2 + 96}, {19, 256, 2 + 32 + 16},
      {21, 256, 2 + 64 + 8 + 32 + 4}, {22, 256, 2 + 64 + 8 + 8}, {23, 256, 2 + 2 + 4 + 128}, {29, 256, 32 + 16 + 8},
      {34, 256, 48 + 4 + 2}, {35, 256, 64 + 2}};
  ASSERT_EQ(ggml_type_table().size(), expected.size());
  for (const auto& [id, elements, bytes] : expected) {
    const auto info = find_ggml_type(id);
    ASSERT_TRUE(info.has_value()) << id;
    EXPECT_EQ(info->block_elements, elements) << info->name;
    EXPECT_EQ(info->block_bytes, bytes) << info->name;
  }
  EXPECT_FALSE(find_ggml_type(4).has_value());  // Q4_2, removed upstream
  const std::vector<uint64_t> no_dims, five_dims{1, 1, 1, 1, 1}, q8_bad{33}, huge{uint64_t{1} << 62, 4};
  // No dims is a scalar, as in gguf.cpp (every ne defaults to 1): one F32, but no Q8_0 block fits.
  EXPECT_EQ(ggml_tensor_bytes(kGgmlF32, no_dims), std::optional<uint64_t>(4));
  EXPECT_FALSE(ggml_tensor_bytes(kGgmlQ8_0, no_dims));
  EXPECT_FALSE(ggml_tensor_bytes(kGgmlF32, five_dims));
  EXPECT_FALSE(ggml_tensor_bytes(kGgmlQ8_0, q8_bad));
  EXPECT_FALSE(ggml_tensor_bytes(kGgmlF32, huge));  // 2^64 elements overflow int64
  const std::vector<uint64_t> empty_rows{256, 0};
  EXPECT_EQ(ggml_tensor_bytes(kGgmlQ4_K, empty_rows), 0u);
}

TEST(GgufWriter, RejectsMalformedModels) {
  const std::vector<std::byte> four(4);
  const std::vector<std::span<const std::byte>> one_span{four};
  GgufFile bad_shape;
  bad_shape.tensors.push_back({"w", {16}, kGgmlQ8_0, 0});  // ne0 16 is not a multiple of 32
  EXPECT_THROW(serialize_gguf(bad_shape, one_span), std::invalid_argument);
  GgufFile wrong_size;
  wrong_size.tensors.push_back({"w", {2}, kGgmlF32, 0});  // needs 8 bytes
  EXPECT_THROW(serialize_gguf(wrong_size, one_span), std::invalid_argument);
  GgufFile duplicate;
  duplicate.tensors = {{"w", {1}, kGgmlF32, 0}, {"w", {1}, kGgmlF32, 0}};
  const std::vector<std::span<const std::byte>> two_spans{four, four};
  EXPECT_THROW(serialize_gguf(duplicate, two_spans), std::invalid_argument);
  GgufFile long_name;
  long_name.tensors.push_back({std::string(64, 'x'), {1}, kGgmlF32, 0});
  EXPECT_THROW(serialize_gguf(long_name, one_span), std::invalid_argument);
  GgufFile bad_alignment;
  bad_alignment.set(kAlignmentKey, uint32_t{48});
  EXPECT_THROW(serialize_gguf(bad_alignment, {}), std::invalid_argument);
  GgufFile mixed_array;
  mixed_array.set("a", Array{ValueType::kUint32, {Value(uint32_t{1}), Value(int32_t{2})}});
  EXPECT_THROW(serialize_gguf(mixed_array, {}), std::invalid_argument);
  GgufFile empty_key;
  empty_key.set("", uint8_t{1});
  EXPECT_THROW(serialize_gguf(empty_key, {}), std::invalid_argument);
  // A failed file write names the file and leaves nothing behind.
  const auto path = std::filesystem::temp_directory_path() / "qforge_gguf_bad.gguf";
  std::filesystem::remove(path);
  try {
    write_gguf_file(path, wrong_size, one_span);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("qforge_gguf_bad.gguf"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_THAT(qforge::testing::temporaries_of(path), ::testing::IsEmpty());
  try {
    write_gguf_file("/no_such_dir/x.gguf", GgufFile{}, {});
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith("gguf writer: /no_such_dir/x.gguf: "));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("No such file or directory"));
  }
}

// A rejected tensor (write_gguf throws inside the atomic write, after the temporary was created)
// keeps the previous file bit for bit and leaves no temporary.
TEST(GgufWriter, FailedWriteKeepsThePreviousFile) {
  const auto path = std::filesystem::temp_directory_path() / ("qforge_gguf_keep_" + std::to_string(::getpid()) + ".gguf");
  GgufFile good;
  good.set("general.architecture", "llama");
  good.tensors.push_back({"w", {8}, kGgmlF32, 0});
  const std::vector<std::byte> data = random_bytes(32, 1);
  const std::vector<std::span<const std::byte>> spans{data};
  write_gguf_file(path, good, spans);
  const std::vector<std::byte> before = serialize_gguf(good, spans);
  GgufFile bad = good;
  bad.set("general.name", "replacement");
  const std::vector<std::span<const std::byte>> short_spans{std::span<const std::byte>(data).first(16)};
  EXPECT_THROW(write_gguf_file(path, bad, short_spans), std::invalid_argument);
  EXPECT_THAT(qforge::testing::temporaries_of(path), ::testing::IsEmpty());
  std::ifstream in(path, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_EQ(after.size(), before.size());
  EXPECT_EQ(std::memcmp(after.data(), before.data(), before.size()), 0);
  std::filesystem::remove(path);
}

TEST(GgufReader, MissingFileNamesThePath) {
  try {
    GgufReader reader(std::filesystem::path("/no_such_dir/missing.gguf"));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/no_such_dir/missing.gguf"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qforge::exporters::gguf
