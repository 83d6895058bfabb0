#pragma once
// Exponential moving average of per-batch min / max: torch.ao.quantization.MovingAverageMinMaxObserver
// and MovingAveragePerChannelMinMaxObserver. The first batch sets min/max; every later batch moves
// them by c = spec.observer.averaging_constant:  min += c * (batch_min - min)  (same for max), in
// float32 with torch's operation order, so the statistics match torch's bit for bit.
#include "fakequant/observers/min_max_observer.h"

namespace qforge::fakequant {

class MovingAverageMinMaxObserver : public MinMaxObserver {
 public:
  // validate() (quantizer_spec.h) rejects averaging constants outside (0, 1].
  MovingAverageMinMaxObserver(const QuantizerSpec& spec, int64_t parameter_count);

 protected:
  void combine(const std::vector<float>& batch_min, const std::vector<float>& batch_max) override;
};

}  // namespace qforge::fakequant
