// Fashion-MNIST's IDX files (data/idx_file.h read_idx, gzip or plain) as the image classifier loads
// them: images (magic 0x803) and labels (0x801) into tensors (data/fashion_mnist.h
// load_idx_image_dataset). Input: the images file and the labels file joined by kFileSeparator.
#include <cstddef>
#include <cstdint>

#include "data/fashion_mnist.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = qforge::fuzz;
  namespace dt = qforge::data;
  const auto parts = fz::split_files({data, size}, 2);
  const auto images = fz::write_scratch("idx/images-idx3-ubyte", parts[0]).string();
  const auto labels = fz::write_scratch("idx/labels-idx1-ubyte", parts[1]).string();
  fz::expect_clean((fz::scratch_dir() / "idx").string(), [&] {
    dt::ImageDatasetOptions options;
    options.layout = dt::ImageLayout::kNchw;
    options.normalize = true;
    dt::load_idx_image_dataset(images, labels, options);
  });
  return 0;
}
