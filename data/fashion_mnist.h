#pragma once
// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 28x28 grey images of 10
// clothing classes, 60000 for training and 10000 for testing, stored as IDX files. Debian's
// dataset-fashion-mnist package (see scripts/setup.sh) installs the four gzipped files under
// kFashionMnistDirectory.
#include <cstdint>
#include <string>

#include "autograd/tensor.h"

namespace qforge::data {

inline constexpr const char* kFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kFashionMnistTrainSize = 60000;
inline constexpr int64_t kFashionMnistTestSize = 10000;
inline constexpr int64_t kFashionMnistClasses = 10;
// Mean and standard deviation of the training pixels scaled to [0, 1]; tests/data recomputes
// them from the files.
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;

enum class Split { kTrain, kTest };
enum class ImageLayout {
  kFlat,  // [n, rows * cols], for MLPs
  kNchw,  // [n, 1, rows, cols], for convolutions
};

struct ImageDatasetOptions {
  ImageLayout layout = ImageLayout::kFlat;
  // Pixels are bytes / 255; with `normalize` they become (x - mean) / stddev.
  bool normalize = false;
  float mean = kFashionMnistMean;
  float stddev = kFashionMnistStd;
};

struct ImageDataset {
  autograd::Tensor images;     // float32, layout per ImageDatasetOptions
  autograd::IndexTensor labels;  // [n], class ids
  int64_t size() const { return labels.numel(); }
};

// Loads an image/label pair of IDX files (gzip or plain). Throws std::runtime_error naming the
// files when the image and label counts differ, besides every read_idx error.
ImageDataset load_idx_image_dataset(const std::string& images_path, const std::string& labels_path,
                                    const ImageDatasetOptions& options = {});

// The train or test split from `directory`, which holds the files under their upstream names
// (train-images-idx3-ubyte, ...), each either gzipped with a .gz suffix or plain.
ImageDataset load_fashion_mnist(Split split, const ImageDatasetOptions& options = {},
                                const std::string& directory = kFashionMnistDirectory);

}  // namespace qforge::data
