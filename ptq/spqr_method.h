#pragma once
// SpQR on a whole model: the "spqr" method of ptq/registry.cpp (ptq/method.h's contract). Every Linear
// whose weight quantizer is an integer grid (ptq/int_grid.h) is quantized with SpQR (ptq/spqr.h) from
// the Hessian of its inputs, in GPTQ's true-sequential order (ptq/sequential.h); its weight quantizer
// is replaced by a fakequant::SpqrWeightQuantizer holding the codes, statistics, permutation and
// outliers (checkpoints restore it: fakequant/spqr_weight.h). Embedding and Conv2d weights get round
// to nearest. The weight bits come from the scheme's grid (int3 -> w = 3); its group size and symmetry
// do not apply (SpQR's groups are beta1 columns in act-order with an asymmetric real-zero grid).
//
// Options ("spqr:outliers=0.01,beta1=16,beta2=16,qq_bits=3,damp=0.01,block=128,act_order"):
//   outliers=<fraction>  per layer, the relative threshold whose outlier fraction is the largest not
//                        above it (default 0.01); 0: no outliers
//   threshold=<tau>      the paper's relative outlier threshold instead (e.g. 0.2), the same for all layers
//   beta1=, beta2=       first- and second-order group sizes (default 16, 16)
//   qq_bits=             bits of the scale and zero codes (default 3)
//   damp=, block=        as gptq (defaults 0.01 and 128; block a multiple of beta1)
//   act_order / no_act_order   column permutation by descending diag(H) (default on, as the paper)
// The method prints to stderr the outlier fraction and the bits per weight the paper counts
// (ptq/spqr.h spqr_bits_per_weight), over all SpQR layers.
#include <string>

#include "ptq/method.h"

namespace qforge::ptq {

void quantize_spqr(layers::Module& model, const Calibration& calibration, const std::string& options);

// The registry's Method::bits_per_weight: the paper's count (spqr_bits_per_weight) of every SpQR layer of
// `model`, weighted by its weight count, from the layouts and outliers its quantizers hold (so options
// need not be parsed again). std::invalid_argument when the model has no SpQR layer.
double spqr_model_bits_per_weight(layers::Module& model, const std::string& options);

}  // namespace qforge::ptq
