// safetensors writer/reader: golden bytes worked out from the format, bit-exact round trips, and
// truncated / corrupted files giving std::runtime_error naming the field (exporters/safetensors).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "exporters/safetensors/safetensors.h"
#include "fakequant/formats/fp8.h"
#include "fakequant/formats/half.h"
#include "tests/support/temporaries.h"

namespace st = qforge::exporters::safetensors;
using qforge::autograd::Shape;
using qforge::autograd::Tensor;
using qforge::exporters::NamedTensors;
using ::testing::HasSubstr;

namespace {

std::vector<std::byte> bytes_of(const std::string& s) {
  std::vector<std::byte> out;
  for (unsigned char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::string runtime_error_of(const std::vector<std::byte>& file) {
  try {
    st::parse_safetensors(file, "test.safetensors");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no std::runtime_error>";
}

// A file from a header text and a data section (header length written little-endian).
std::vector<std::byte> file_of(const std::string& header, size_t data_bytes) {
  std::string s(8, '\0');
  uint64_t n = header.size();
  for (int b = 0; b < 8; ++b) s[b] = static_cast<char>((n >> (8 * b)) & 0xFF);
  return bytes_of(s + header + std::string(data_bytes, '\0'));
}

NamedTensors sample_tensors() {
  NamedTensors t;
  t.emplace("model.layers.0.self_attn.q_proj.lora_A.weight", Tensor::randn(Shape{4, 16}, 1));
  t.emplace("model.layers.0.self_attn.q_proj.lora_B.weight", Tensor::randn(Shape{16, 4}, 2));
  t.emplace("scalar", Tensor::scalar(-0.0f));
  Tensor special = Tensor::from_vector(Shape{5}, {1e-40f, -3.4e38f, INFINITY, NAN, 0.1f});
  t.emplace("special", special);
  return t;
}

void expect_bit_identical(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * a.numel()), 0);
}

}  // namespace

TEST(Safetensors, GoldenBytesOfATinyFile) {
  // {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} is 54 bytes, padded with two spaces to 56
  // = 0x38 so the data start at 64; 1.0f = 0x3F800000 and -2.0f = 0xC0000000, little-endian.
  NamedTensors t;
  t.emplace("a", Tensor::from_vector(Shape{2}, {1.0f, -2.0f}));
  std::string expected("\x38\0\0\0\0\0\0\0", 8);
  expected += "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  ";
  expected += std::string("\x00\x00\x80\x3F\x00\x00\x00\xC0", 8);
  EXPECT_EQ(st::serialize_safetensors(t), bytes_of(expected));
  const auto back = st::parse_safetensors(bytes_of(expected), "golden");
  EXPECT_EQ(back.tensors.at("a").to_vector(), (std::vector<float>{1.0f, -2.0f}));
}

TEST(Safetensors, RoundTripIsBitExactWithMetadata) {
  const NamedTensors t = sample_tensors();
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "qforge_test_roundtrip.safetensors";
  st::write_safetensors(path, t, {{"format", "pt"}, {"note", "ü \"quoted\""}});
  const auto back = st::read_safetensors(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.metadata.at("format"), "pt");
  EXPECT_EQ(back.metadata.at("note"), "ü \"quoted\"");
  ASSERT_EQ(back.tensors.size(), t.size());
  for (const auto& [name, tensor] : t) expect_bit_identical(back.tensors.at(name), tensor);
  EXPECT_THAT(qforge::testing::temporaries_of(path), ::testing::IsEmpty());
}

TEST(Safetensors, HalfDtypesRoundTripTheirRoundedValues) {
  const Tensor x = Tensor::randn(Shape{3, 7}, 5);
  for (st::Dtype dtype : {st::Dtype::kF16, st::Dtype::kBF16}) {
    const auto bytes = st::serialize_safetensors({{"x", x}}, {}, dtype);
    EXPECT_EQ(static_cast<int>(bytes[0]) % 8, 0);  // header padded: data start at a multiple of 8
    EXPECT_EQ(bytes.size() - 8 - static_cast<size_t>(bytes[0]), 2u * 21);  // 2 bytes per element
    const Tensor back = st::parse_safetensors(bytes, "half").tensors.at("x");
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float want = dtype == st::Dtype::kF16 ? qforge::fakequant::round_to_fp16(x.data()[i])
                                                  : qforge::fakequant::round_to_bf16(x.data()[i]);
      EXPECT_EQ(back.data()[i], want) << st::dtype_name(dtype) << " element " << i;
    }
  }
}

TEST(Safetensors, EveryTruncationIsAnError) {
  const auto full = st::serialize_safetensors(sample_tensors(), {{"format", "pt"}});
  for (size_t n = 0; n < full.size(); ++n) {
    const std::vector<std::byte> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THAT(runtime_error_of(cut), HasSubstr("test.safetensors")) << "prefix of " << n << " bytes";
  }
}

TEST(Safetensors, RandomCorruptionNeverCrashes) {
  const auto full = st::serialize_safetensors(sample_tensors());
  std::mt19937 rng(7);
  int errors = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    auto bad = full;
    const size_t at = rng() % 200;  // header region (header length + JSON)
    bad[at] = static_cast<std::byte>(rng() & 0xFF);
    try {
      st::parse_safetensors(bad, "corrupt");
    } catch (const std::runtime_error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(Safetensors, ErrorsNameFileTensorAndField) {
  EXPECT_THAT(runtime_error_of(file_of("{\"w\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4)),
              HasSubstr("tensor 'w': dtype I16 is not supported (F32, F16, BF16, F8_E4M3, I8, U8, I32, I64)"));
  // Errors about a tensor's data name its byte in the file: 8 + the header's length + data_offsets[0].
  const std::string shape3 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
  EXPECT_THAT(runtime_error_of(file_of(shape3, 8)),
              HasSubstr("safetensors: test.safetensors: tensor 'w' at byte " + std::to_string(8 + shape3.size()) +
                        ": field shape needs 12 bytes but data_offsets span 8"));
  const std::string shape2 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  EXPECT_THAT(runtime_error_of(file_of(shape2, 4)),
              HasSubstr("tensor 'w' at byte " + std::to_string(8 + shape2.size()) +
                        ": field data_offsets [0, 8] outside the data (4 bytes from byte " +
                        std::to_string(8 + shape2.size()) + ")"));
  const std::string hole = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
  EXPECT_THAT(runtime_error_of(file_of(hole, 8)),
              HasSubstr("tensor 'w' at byte " + std::to_string(8 + hole.size() + 4) +
                        ": field data_offsets begins at 4, expected 0 (holes or overlaps)"));
  // A JSON syntax error: the parser's byte (the '}' where a value should be), counted from the file's start.
  EXPECT_THAT(runtime_error_of(file_of("{\"w\":}", 0)), HasSubstr("safetensors: test.safetensors: JSON at byte 13: "));
  EXPECT_THAT(runtime_error_of(file_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                                       "\"data_offsets\":[0,8]}}", 8)),
              HasSubstr("field shape dimension 4294967296 exceeds the data size"));
  EXPECT_THAT(runtime_error_of(file_of("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8)), HasSubstr("field data_offsets"));
  EXPECT_THAT(runtime_error_of(file_of("{\"__metadata__\":{\"k\":1}}", 0)), HasSubstr("__metadata__ key 'k'"));
  EXPECT_THAT(runtime_error_of(file_of("[1]", 0)), HasSubstr("does not start with '{'"));
  auto huge = file_of("{}", 0);
  huge[7] = std::byte{0x7F};
  EXPECT_THAT(runtime_error_of(huge), HasSubstr("header length at byte 0: "));
  EXPECT_THROW(st::read_safetensors("/nonexistent/x.safetensors"), std::runtime_error);
}

namespace {

st::EncodedTensor encoded(const std::string& name, st::Dtype dtype, std::vector<int64_t> shape, std::vector<int> bytes) {
  st::EncodedTensor t{name, dtype, std::move(shape), {}};
  for (int b : bytes) t.data.push_back(static_cast<std::byte>(b));
  return t;
}

}  // namespace

TEST(Safetensors, GoldenBytesOfIntegerTensorsBesideAFloatOne) {
  // Name order: "a" (F32 [1]), "b" (I32 [1] = -2), "c" (U8 [2]); 8 + header padded to a multiple of 8.
  NamedTensors floats;
  floats.emplace("a", Tensor::from_vector(Shape{1}, {1.0f}));
  st::EncodedTensors ints;
  ints.emplace("b", encoded("b", st::Dtype::kI32, {1}, {0xFE, 0xFF, 0xFF, 0xFF}));
  ints.emplace("c", encoded("c", st::Dtype::kU8, {2}, {7, 200}));
  std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                       "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string expected(8, '\0');
  expected[0] = static_cast<char>(header.size());
  expected += header + std::string("\x00\x00\x80\x3F\xFE\xFF\xFF\xFF\x07\xC8", 10);
  EXPECT_EQ(st::serialize_safetensors(floats, {}, st::Dtype::kF32, ints), bytes_of(expected));
  const auto back = st::parse_safetensors(bytes_of(expected), "golden");
  EXPECT_EQ(back.tensors.at("a").to_vector(), (std::vector<float>{1.0f}));
  ASSERT_EQ(back.encoded.size(), 2u);
  EXPECT_EQ(back.encoded.at("b").data, ints.at("b").data);
  EXPECT_EQ(back.encoded.at("c").dtype, st::Dtype::kU8);
  EXPECT_EQ(back.encoded.at("c").shape, (std::vector<int64_t>{2}));
}

TEST(Safetensors, EveryIntegerDtypeRoundTripsThroughTheAtomicWriter) {
  st::EncodedTensors ints;
  std::mt19937 rng(3);
  for (st::Dtype dtype : {st::Dtype::kI8, st::Dtype::kU8, st::Dtype::kI32, st::Dtype::kI64, st::Dtype::kF8E4M3}) {
    const std::string name = std::string("t.") + st::dtype_name(dtype);
    std::vector<int> bytes(3 * 5 * st::dtype_bytes(dtype));
    for (int& b : bytes) b = static_cast<int>(rng() & 0x7E);  // no E4M3 NaN pattern (0x7F)
    ints.emplace(name, encoded(name, dtype, {3, 5}, bytes));
  }
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "qforge_test_integers.safetensors";
  st::write_safetensors(path, {}, {{"format", "pt"}}, st::Dtype::kF32, ints);
  const auto back = st::read_safetensors(path);
  std::filesystem::remove(path);
  EXPECT_THAT(qforge::testing::temporaries_of(path), ::testing::IsEmpty());
  // F8_E4M3 is a float dtype: decoded (exactly) to FP32; the integers come back as their bytes.
  ASSERT_EQ(back.encoded.size(), 4u);
  for (const auto& [name, t] : back.encoded) EXPECT_EQ(t.data, ints.at(name).data) << name;
  const Tensor& fp8 = back.tensors.at("t.F8_E4M3");
  const auto& fp8_bytes = ints.at("t.F8_E4M3").data;
  for (int64_t i = 0; i < fp8.numel(); ++i)
    EXPECT_EQ(fp8.data()[i], qforge::fakequant::decode_e4m3(std::to_integer<uint8_t>(fp8_bytes[i]))) << i;
}

TEST(Safetensors, StreamedWriterEqualsTheInMemoryOneWithEncodedTensors) {
  const NamedTensors floats = sample_tensors();
  st::EncodedTensors ints;
  ints.emplace("m.qweight", encoded("m.qweight", st::Dtype::kI32, {2, 1}, {1, 2, 3, 4, 5, 6, 7, 8}));
  st::TensorRefs refs;
  for (const auto& [name, t] : floats) refs[name] = &t;
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "qforge_test_streamed.safetensors";
  st::write_safetensors_streamed(path, refs, {}, st::Dtype::kF16, ints);
  std::ifstream in(path, std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::filesystem::remove(path);
  EXPECT_EQ(bytes_of(text), st::serialize_safetensors(floats, {}, st::Dtype::kF16, ints));
}

TEST(Safetensors, EncodedTensorsAreCheckedOnWriteAndDecodeRefusesIntegers) {
  const auto write_error = [](const st::EncodedTensors& ints, const NamedTensors& floats = {}) {
    try {
      st::serialize_safetensors(floats, {}, st::Dtype::kF32, ints);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("<no error>");
  };
  EXPECT_THAT(write_error({{"q", encoded("q", st::Dtype::kI32, {2}, {1, 2, 3, 4})}}),
              HasSubstr("tensor 'q' holds 4 bytes, its I32 shape needs 8"));
  EXPECT_THAT(write_error({{"q", encoded("p", st::Dtype::kU8, {1}, {1})}}), HasSubstr("'p' is filed as 'q'"));
  NamedTensors clash;
  clash.emplace("q", Tensor::scalar(1.0f));
  EXPECT_THAT(write_error({{"q", encoded("q", st::Dtype::kU8, {1}, {1})}}, clash), HasSubstr("tensor 'q' given twice"));
  EXPECT_THROW(st::serialize_safetensors(clash, {}, st::Dtype::kI32), std::invalid_argument);

  const auto bytes = st::serialize_safetensors({}, {}, st::Dtype::kF32, {{"q", encoded("q", st::Dtype::kI64, {1}, {1, 0, 0, 0, 0, 0, 0, 0})}});
  const st::SafetensorsHeader header = st::parse_safetensors_header(bytes, "ints");
  ASSERT_EQ(header.tensors.size(), 1u);
  float out[1];
  try {
    st::decode_tensor(header.tensors[0], bytes, out);
    ADD_FAILURE() << "decode_tensor decoded an I64 tensor";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("'q': dtype I64 is not a float dtype"));
  }
  EXPECT_EQ(st::encoded_tensor(header.tensors[0], bytes).data.size(), 8u);
  st::TensorEntry outside = header.tensors[0];
  outside.end += 8;
  EXPECT_THROW(st::encoded_tensor(outside, bytes), std::invalid_argument);
}
