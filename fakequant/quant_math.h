#pragma once
// Scalar integer quantization math shared by the tensor-level quantizers (fakequant/int_quantizer.h).
// The conventions follow torch.fake_quantize_per_{tensor,channel}_affine (PyTorch 1.13 CPU kernels):
//   code = clamp(nearbyint(x * (1/scale)) + zero_point, qmin, qmax),  x' = (code - zero_point) * scale,
// all in float32, with round-half-to-even (the default FE_TONEAREST mode of std::nearbyint).
#include <cstdint>

namespace qforge::fakequant {

// A b-bit integer grid (2 <= bits <= 8).
//   symmetric:  full signed range [-2^(b-1), 2^(b-1)-1], zero point always 0; the scale maps
//               max|x| to qmax, so the extra negative code -2^(b-1) is reachable only by clamping
//               (torch.ao's symmetric observers give the same scale only with quant_min = -qmax; with
//               their default full range they divide by qmax + 0.5).
//   asymmetric: unsigned range [0, 2^b-1] with an integer zero point in that range
//               (torch's quint8 affine scheme with quant_min=0, quant_max=2^b-1).
struct IntFormat {
  int bits = 8;
  bool symmetric = true;

  int qmin() const { return symmetric ? -(1 << (bits - 1)) : 0; }
  int qmax() const { return symmetric ? (1 << (bits - 1)) - 1 : (1 << bits) - 1; }
};

// Throws std::invalid_argument naming `op` when bits is outside 2..8.
void check_format(const IntFormat& format, const char* op);

// Smallest scale we hand out: a constant (all-zero or single-valued) range would otherwise give
// scale 0 and an infinite 1/scale. Same guard as torch.ao observers (eps = finfo(float32).eps).
inline constexpr float kMinScale = 1.1920928955078125e-07f;

struct ScaleAndZeroPoint {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// Scale and zero point covering [min_value, max_value].
//   symmetric:  scale = max(|min|, |max|) / qmax, zero point 0.
//   asymmetric: the range is first widened to contain 0 (so 0 is exactly representable, as the
//               torch.ao MinMaxObserver does), scale = (max - min) / (qmax - qmin),
//               zero_point = clamp(nearbyint(qmin - min / scale), qmin, qmax).
// Both clamp the scale to at least kMinScale.
ScaleAndZeroPoint choose_scale(float min_value, float max_value, const IntFormat& format);

// One element: round half to even, add the zero point, clamp to [qmin, qmax].
int32_t quantize_value(float x, float inv_scale, int32_t zero_point, int qmin, int qmax);

inline float dequantize_value(int32_t code, float scale, int32_t zero_point) {
  return static_cast<float>(code - zero_point) * scale;
}

}  // namespace qforge::fakequant
