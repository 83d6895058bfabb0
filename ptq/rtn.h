#pragma once
// Round-to-nearest post-training quantization (ptq/method.h): every weight quantizer takes the scales
// its observer picks for the current weight (min-max, MSE, percentile, ... as its spec says), every
// static activation quantizer observes `calibration.batches` batches, then all are frozen.
#include "ptq/method.h"

namespace qforge::ptq {

// Takes no options.
void quantize_rtn(layers::Module& model, const Calibration& calibration, const std::string& options);

// The activation half of it, for methods that choose the weights themselves (GPTQ): every static
// activation quantizer observes the calibration batches (none are run when there is none), then every
// quantizer is frozen and in eval mode.
void calibrate_activations(layers::Module& model, const Calibration& calibration);

}  // namespace qforge::ptq
