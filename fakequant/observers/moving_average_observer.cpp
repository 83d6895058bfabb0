#include "fakequant/observers/moving_average_observer.h"

namespace qforge::fakequant {

MovingAverageMinMaxObserver::MovingAverageMinMaxObserver(const QuantizerSpec& spec, int64_t parameter_count)
    : MinMaxObserver(spec, parameter_count, ObserverKind::kMovingAverageMinMax) {}  // validate() checks c

void MovingAverageMinMaxObserver::combine(const std::vector<float>& batch_min, const std::vector<float>& batch_max) {
  if (steps() == 0) {
    min_ = batch_min;
    max_ = batch_max;
    return;
  }
  const float c = spec().observer.averaging_constant;
  for (size_t p = 0; p < min_.size(); ++p) {
    // Three separately rounded float32 operations, as torch evaluates min + c * (cur - min).
    const float min_step = c * (batch_min[p] - min_[p]);
    const float max_step = c * (batch_max[p] - max_[p]);
    min_[p] = min_[p] + min_step;
    max_[p] = max_[p] + max_step;
  }
}

}  // namespace qforge::fakequant
