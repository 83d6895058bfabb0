#include "fakequant/param_layout.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace qforge::fakequant {

ParamLayout layout_of(const Shape& shape, const GranularitySpec& spec, const char* op) {
  const int64_t numel = shape.numel();
  ParamLayout layout;
  switch (spec.kind) {
    case Granularity::kPerTensor:
      layout.inner = std::max<int64_t>(numel, 1);
      return layout;
    case Granularity::kPerChannel: {
      if (spec.axis < 0 || spec.axis >= shape.ndim()) {
        throw std::invalid_argument(std::string(op) + ": per-channel axis " + std::to_string(spec.axis) +
                                    " is out of range for a tensor of shape " + shape.to_string());
      }
      layout.count = shape[spec.axis];
      for (int d = spec.axis + 1; d < shape.ndim(); ++d) layout.inner *= shape[d];
      return layout;
    }
    case Granularity::kPerGroup: {
      const int64_t last_dim = shape.ndim() == 0 ? 1 : shape[shape.ndim() - 1];
      if (spec.group_size <= 0 || last_dim % spec.group_size != 0) {
        throw std::invalid_argument(std::string(op) + ": group size " + std::to_string(spec.group_size) +
                                    " must be positive and divide the last dimension " +
                                    std::to_string(last_dim) + " of shape " + shape.to_string());
      }
      layout.inner = spec.group_size;
      layout.count = std::max<int64_t>(numel / spec.group_size, 1);
      return layout;
    }
  }
  throw std::invalid_argument(std::string(op) + ": unknown granularity");
}

}  // namespace qforge::fakequant
