// The real Fashion-MNIST files of Debian's dataset-fashion-mnist: counts, layouts, the first
// labels, class balance and a pixel checksum (reference figures computed with Python's gzip +
// numpy from the same files), and the normalisation constants.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>

#include "data/fashion_mnist.h"

namespace qforge::data {
namespace {

// Sum of all pixel bytes, recovered from the [0, 1] floats.
int64_t pixel_byte_sum(const ImageDataset& dataset) {
  int64_t sum = 0;
  const float* pixels = dataset.images.data();
  for (int64_t i = 0; i < dataset.images.numel(); ++i) sum += std::lround(pixels[i] * 255.0f);
  return sum;
}

std::array<int64_t, 10> class_counts(const ImageDataset& dataset) {
  std::array<int64_t, 10> counts{};
  for (int64_t i = 0; i < dataset.size(); ++i) ++counts.at(static_cast<size_t>(dataset.labels.data()[i]));
  return counts;
}

TEST(FashionMnist, TrainSplit) {
  const ImageDataset train = load_fashion_mnist(Split::kTrain);
  EXPECT_EQ(train.images.shape(), (autograd::Shape{60000, 784}));
  EXPECT_EQ(train.size(), 60000);
  const std::vector<int64_t> first(train.labels.data(), train.labels.data() + 10);
  EXPECT_EQ(first, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));  // 9 = ankle boot
  for (int64_t count : class_counts(train)) EXPECT_EQ(count, 6000);
  EXPECT_EQ(pixel_byte_sum(train), 3431114169);

  double sum = 0.0, square = 0.0;
  const float* pixels = train.images.data();
  for (int64_t i = 0; i < train.images.numel(); ++i) {
    sum += pixels[i];
    square += double(pixels[i]) * pixels[i];
  }
  const double n = static_cast<double>(train.images.numel());
  const double mean = sum / n, stddev = std::sqrt(square / n - mean * mean);
  std::printf("train pixels: mean %.6f std %.6f (constants %.4f %.4f)\n", mean, stddev, kFashionMnistMean,
              kFashionMnistStd);
  EXPECT_NEAR(mean, kFashionMnistMean, 1e-4);
  EXPECT_NEAR(stddev, kFashionMnistStd, 1e-4);
}

TEST(FashionMnist, TestSplitNchwNormalised) {
  const ImageDataset test = load_fashion_mnist(Split::kTest, {.layout = ImageLayout::kNchw, .normalize = true});
  EXPECT_EQ(test.images.shape(), (autograd::Shape{10000, 1, 28, 28}));
  const std::vector<int64_t> first(test.labels.data(), test.labels.data() + 10);
  EXPECT_EQ(first, (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  for (int64_t count : class_counts(test)) EXPECT_EQ(count, 1000);
  // Undo the normalisation and check the checksum of the raw bytes.
  int64_t sum = 0;
  for (int64_t i = 0; i < test.images.numel(); ++i) {
    sum += std::lround((test.images.data()[i] * kFashionMnistStd + kFashionMnistMean) * 255.0f);
  }
  EXPECT_EQ(sum, 573469082);
  EXPECT_FLOAT_EQ(test.images.data()[0], -kFashionMnistMean / kFashionMnistStd);  // corner pixel is 0
}

}  // namespace
}  // namespace qforge::data
