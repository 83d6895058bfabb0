#pragma once
// LLM.int8() (Dettmers et al. 2022, "LLM.int8(): 8-bit Matrix Multiplication for Transformers at
// Scale"): vector-wise int8 quantization (§3.2) with a mixed-precision decomposition (§3.3).
//
// Vector-wise: every row of the input X (a token) gets its own absmax scale and every output row of
// W (an output channel) its own, so X_i8 W_i8^T in int32 is dequantized by the outer product of the
// two scale vectors (eq. 6); levels -127..127. Decomposition: the input columns (features) holding
// any |x| >= alpha (threshold, 6.0 in the paper) in the current forward are multiplied in 16 bits,
// the rest in int8 (eq. 7); which columns that is changes with every batch.
//
// Which weight the 16-bit columns use: the layout this method's result exports to is bitsandbytes'
// Linear8bitLt with int8 weights (weight I8 + SCB per row, docs/llm-int8.md §2: the float weight is
// not kept), and its inference path (bitsandbytes int8_mixed_scaled_mm) multiplies
// the FP16 outlier columns of X with the *dequantized int8* weight columns, CB[:, O] * SCB / 127. So
// the weight is quantized once, per output channel absmax, for all columns, and the decomposition is
// entirely in the input format: X_O kept in FP16, X_R per-token int8 with the outlier elements left
// out of each row's absmax (fakequant/fake_quant_op.h: fake_quant_dynamic). The run's rules carry it
// as the input scheme "int8:token:outlier<threshold>", so `qforge eval` rebuilds the same forward
// from the saved config. (The paper's §3.3 equation multiplies by the FP16 weight, which a model
// stored as I8 + SCB no longer has; bitsandbytes does the same only while it keeps FP16 weights.)
// What qforge does not emulate: bitsandbytes rounds the dequantized weight columns and the outputs
// to FP16 (our model computes in FP32), and computes codes as round(x * (127 / absmax)) where
// qforge's grid uses round(x * (1 / (absmax / 127))) (fakequant/quant_math.h), which can move a tie.
//
// Measured: the down_proj inputs of a small Llama have a natural scale above 6, so most of their
// columns are "outliers" in every batch (docs/llm-int8.md §3); the method prints the
// fraction of outlier columns per layer over the calibration batches instead of assuming sparsity.
#include <string>
#include <vector>

#include "ptq/method.h"

namespace qforge::ptq {

// "threshold=<t>" (t > 0; default 6.0, the paper's alpha).
float llm_int8_threshold(const std::string& options);
// The input scheme the method needs on every quantized Linear, e.g. "int8:token:outlier6".
std::string llm_int8_input_scheme(const std::string& options);

// Outlier columns of one Linear's input over the forwards that ran: mean and max fraction of its
// input columns (percent of in_features).
struct OutlierColumns {
  std::string layer;
  int64_t columns = 0;
  int64_t forwards = 0;
  double mean_percent = 0.0, max_percent = 0.0;
};
// Runs the calibration batches through `model` as it is and counts, per Linear whose input quantizer
// has an outlier threshold, the columns that threshold sends to 16 bits.
std::vector<OutlierColumns> count_outlier_columns(layers::Module& model, const Calibration& calibration);

// The registry entry: checks the rules (int8 symmetric per-output-channel weights, the method's input
// scheme), calibrates the weights (round to nearest, ptq/rtn.h), prints the outlier fractions.
void quantize_llm_int8(layers::Module& model, const Calibration& calibration, const std::string& options);

}  // namespace qforge::ptq
