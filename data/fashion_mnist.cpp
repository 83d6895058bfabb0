#include "data/fashion_mnist.h"

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "data/idx_file.h"

namespace qforge::data {
namespace {

using autograd::IndexTensor;
using autograd::Shape;
using autograd::Tensor;

// `directory/name.gz` when present, else `directory/name` (whose absence read_idx reports).
std::string resolve(const std::string& directory, const std::string& name) {
  const std::string gz = directory + "/" + name + ".gz";
  std::error_code error;
  return std::filesystem::exists(gz, error) ? gz : directory + "/" + name;
}

Tensor to_float_images(const IdxArray& images, const ImageDatasetOptions& options) {
  const int64_t n = images.dims[0], rows = images.dims[1], cols = images.dims[2];
  const Shape shape = options.layout == ImageLayout::kFlat ? Shape{n, rows * cols} : Shape{n, 1, rows, cols};
  if (options.normalize && !(options.stddev > 0.0f)) {
    throw std::invalid_argument("load_idx_image_dataset: normalize needs stddev > 0, got " +
                                std::to_string(options.stddev));
  }
  Tensor tensor(shape);
  float* out = tensor.data();
  const float scale = options.normalize ? 1.0f / (255.0f * options.stddev) : 1.0f / 255.0f;
  const float shift = options.normalize ? options.mean / options.stddev : 0.0f;
  const size_t count = images.values.size();
  for (size_t i = 0; i < count; ++i) out[i] = static_cast<float>(images.values[i]) * scale - shift;
  return tensor;
}

}  // namespace

ImageDataset load_idx_image_dataset(const std::string& images_path, const std::string& labels_path,
                                    const ImageDatasetOptions& options) {
  const IdxArray images = read_idx(images_path, kIdxImagesMagic);
  const IdxArray labels = read_idx(labels_path, kIdxLabelsMagic);
  if (images.dims[0] != labels.dims[0]) {
    throw std::runtime_error("load_idx_image_dataset: " + images_path + " holds " + std::to_string(images.dims[0]) +
                             " images but " + labels_path + " holds " + std::to_string(labels.dims[0]) + " labels");
  }
  ImageDataset dataset;
  dataset.images = to_float_images(images, options);
  dataset.labels = IndexTensor(Shape{labels.dims[0]}, std::vector<int64_t>(labels.values.begin(), labels.values.end()));
  return dataset;
}

ImageDataset load_fashion_mnist(Split split, const ImageDatasetOptions& options, const std::string& directory) {
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  ImageDataset dataset = load_idx_image_dataset(resolve(directory, prefix + "-images-idx3-ubyte"),
                                                resolve(directory, prefix + "-labels-idx1-ubyte"), options);
  const int64_t expected = split == Split::kTrain ? kFashionMnistTrainSize : kFashionMnistTestSize;
  if (dataset.size() != expected) {
    throw std::runtime_error("load_fashion_mnist: " + directory + " " + prefix + " split holds " +
                             std::to_string(dataset.size()) + " examples, expected " + std::to_string(expected));
  }
  const int64_t* labels = dataset.labels.data();
  for (int64_t i = 0; i < dataset.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= kFashionMnistClasses) {
      throw std::runtime_error("load_fashion_mnist: label " + std::to_string(labels[i]) + " at index " +
                               std::to_string(i) + " of the " + prefix + " split is outside [0, 10)");
    }
  }
  return dataset;
}

}  // namespace qforge::data
