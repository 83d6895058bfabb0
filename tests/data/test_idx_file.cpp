// IDX reader and writer on small synthetic files (plain and gzipped), the image/label data set
// built from them, and every error path with its message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/fashion_mnist.h"
#include "data/file_bytes.h"
#include "data/idx_file.h"
#include "tests/data/errors.h"

namespace qforge::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::make_temp_dir;
using testing::runtime_error_of;

class IdxFile : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = make_temp_dir("idx"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // 3 images of 2x4 pixels with values 0, 10, 20, ... and labels 7, 0, 9.
  void write_pair(const std::string& images, const std::string& labels, bool gzip) const {
    IdxArray pixels{{3, 2, 4}, {}};
    for (int i = 0; i < 24; ++i) pixels.values.push_back(static_cast<uint8_t>(10 * i));
    write_idx(path(images), pixels, gzip);
    write_idx(path(labels), IdxArray{{3}, {7, 0, 9}}, gzip);
  }

  std::string dir_;
};

TEST_F(IdxFile, RoundTripPlainAndGzip) {
  IdxArray array{{2, 3, 5}, {}};
  for (int i = 0; i < 30; ++i) array.values.push_back(static_cast<uint8_t>(i * 37 % 256));
  for (bool gzip : {false, true}) {
    const std::string file = path(gzip ? "a.gz" : "a");
    write_idx(file, array, gzip);
    const IdxArray back = read_idx(file, kIdxImagesMagic);
    EXPECT_EQ(back.dims, array.dims);
    EXPECT_EQ(back.values, array.values);
  }
  // The plain file is exactly the spec layout: magic, big-endian dims, then bytes.
  const std::vector<uint8_t> bytes = read_file_bytes(path("a"));
  ASSERT_EQ(bytes.size(), 4u + 12u + 30u);
  EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 8), (std::vector<uint8_t>{0, 0, 8, 3, 0, 0, 0, 2}));
  EXPECT_EQ(bytes[15], 5);
  // The gzip file really is compressed (gzip magic 1f 8b), not a plain copy.
  std::ifstream gz(path("a.gz"), std::ios::binary);
  EXPECT_EQ(gz.get(), 0x1f);
  EXPECT_EQ(gz.get(), 0x8b);
}

TEST_F(IdxFile, ImageDatasetScalesLayoutsAndNormalises) {
  write_pair("img", "lab", /*gzip=*/true);
  const ImageDataset flat = load_idx_image_dataset(path("img"), path("lab"));
  EXPECT_EQ(flat.images.shape(), (autograd::Shape{3, 8}));
  EXPECT_EQ(flat.size(), 3);
  EXPECT_FLOAT_EQ(flat.images.data()[0], 0.0f);
  EXPECT_FLOAT_EQ(flat.images.data()[23], 230.0f / 255.0f);
  EXPECT_EQ(std::vector<int64_t>(flat.labels.data(), flat.labels.data() + 3), (std::vector<int64_t>{7, 0, 9}));

  const ImageDataset nchw = load_idx_image_dataset(path("img"), path("lab"),
                                                   {.layout = ImageLayout::kNchw, .normalize = true, .mean = 0.5f, .stddev = 0.25f});
  EXPECT_EQ(nchw.images.shape(), (autograd::Shape{3, 1, 2, 4}));
  EXPECT_NEAR(nchw.images.data()[0], (0.0f - 0.5f) / 0.25f, 1e-6);
  EXPECT_NEAR(nchw.images.data()[13], (130.0f / 255.0f - 0.5f) / 0.25f, 1e-6);
}

TEST_F(IdxFile, MissingFile) {
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("nope"), kIdxImagesMagic); }),
              AllOf(HasSubstr("missing file"), HasSubstr(path("nope"))));
}

TEST_F(IdxFile, BadMagic) {
  write_idx(path("labels"), IdxArray{{3}, {1, 2, 3}});
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("labels"), kIdxImagesMagic); }),
              AllOf(HasSubstr("idx: " + path("labels") + ": magic at byte 0: bad magic 0x00000801"), HasSubstr("expected 0x00000803")));
  write_file_bytes(path("text"), {'h', 'e', 'l', 'l', 'o'});
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("text"), kIdxLabelsMagic); }),
              AllOf(HasSubstr("bad magic 0x68656c6c"), HasSubstr("expected 0x00000801")));
}

TEST_F(IdxFile, Truncated) {
  write_file_bytes(path("tiny"), {0, 0});
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("tiny"), kIdxLabelsMagic); }),
              AllOf(HasSubstr(path("tiny")), HasSubstr("magic at byte 0: truncated: 2 bytes")));
  write_file_bytes(path("header"), {0, 0, 8, 3, 0, 0, 0, 2, 0, 0});
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("header"), kIdxImagesMagic); }),
              AllOf(HasSubstr("dims at byte 4: truncated: 10 bytes"), HasSubstr("header of 3 dims needs 16")));
  write_file_bytes(path("short"), {0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3});
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("short"), kIdxLabelsMagic); }),
              AllOf(HasSubstr(path("short")), HasSubstr("data at byte 8: truncated: dims promise 5 element bytes, file holds 3")));
  write_file_bytes(path("long"), {0, 0, 8, 1, 0, 0, 0, 1, 1, 2});
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("long"), kIdxLabelsMagic); }),
              AllOf(HasSubstr("data at byte 9: trailing bytes"), HasSubstr("promise 1 element bytes, file holds 2")));
}

TEST_F(IdxFile, TruncatedGzipStream) {
  IdxArray array{{4000}, std::vector<uint8_t>(4000)};
  for (size_t i = 0; i < array.values.size(); ++i) array.values[i] = static_cast<uint8_t>(i * i % 251);
  write_idx(path("full.gz"), array, /*gzip=*/true);
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(path("full.gz"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  bytes.resize(bytes.size() / 2);
  write_file_bytes(path("cut.gz"), bytes);
  EXPECT_THAT(runtime_error_of([&] { read_idx(path("cut.gz"), kIdxLabelsMagic); }),
              AllOf(HasSubstr(path("cut.gz")), HasSubstr("truncated")));
}

TEST_F(IdxFile, ImageAndLabelCountsDisagree) {
  write_pair("img", "lab", /*gzip=*/false);
  write_idx(path("lab4"), IdxArray{{4}, {1, 2, 3, 4}});
  EXPECT_THAT(runtime_error_of([&] { load_idx_image_dataset(path("img"), path("lab4")); }),
              AllOf(HasSubstr(path("img") + " holds 3 images"), HasSubstr(path("lab4") + " holds 4 labels")));
}

TEST_F(IdxFile, FashionMnistDirectoryWithoutFiles) {
  EXPECT_THAT(runtime_error_of([&] { load_fashion_mnist(Split::kTest, {}, dir_); }),
              AllOf(HasSubstr("missing file"), HasSubstr(path("t10k-images-idx3-ubyte"))));
}

TEST_F(IdxFile, FashionMnistWrongCountOrLabel) {
  // A directory laid out like the package's but holding 3 examples is rejected by size.
  write_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", /*gzip=*/false);
  EXPECT_THAT(runtime_error_of([&] { load_fashion_mnist(Split::kTest, {}, dir_); }),
              AllOf(HasSubstr("t10k split holds 3 examples, expected 10000")));
  write_idx(path("t10k-images-idx3-ubyte"), IdxArray{{10000, 1, 1}, std::vector<uint8_t>(10000, 0)});
  std::vector<uint8_t> labels(10000, 1);
  labels[42] = 10;
  write_idx(path("t10k-labels-idx1-ubyte"), IdxArray{{10000}, labels});
  EXPECT_THAT(runtime_error_of([&] { load_fashion_mnist(Split::kTest, {}, dir_); }),
              HasSubstr("label 10 at index 42 of the t10k split is outside [0, 10)"));
}

}  // namespace
}  // namespace qforge::data
