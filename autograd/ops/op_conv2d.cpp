// 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) by im2col + GEMM
// (Chellapilla, Puri & Simard 2006, "High Performance Convolutional Neural Networks for Document
// Processing", sec. 3): each image's receptive fields are unrolled into col [c_in*kh*kw, oh*ow], so
//   y_n = W col_n + b                      with W viewed as [c_out, c_in*kh*kw];
//   dW = sum_n dy_n col_n^T,   db = sum over n and pixels of dy,
//   dx_n = col2im(W^T dy_n)                (overlapping windows add up).
// Images run in parallel, one whole image per thread at a time, so a thread's columns (225 KiB for
// 32 channels of 14x14 under a 3x3 kernel) stay in its private L2 next to the GEMM's packed panels.
// Backward rebuilds the columns instead of saving them: saving would stream batch x that size
// through memory twice, rebuilding costs one pass over an L2-resident image.
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "autograd/ops.h"

namespace qforge::autograd {

namespace {

struct ConvGeometry {
  int64_t batch, c_in, h, w, c_out, kh, kw, stride, pad, oh, ow;
  int64_t rows() const { return c_in * kh * kw; }  // GEMM k: one column entry per (channel, tap)
  int64_t pixels() const { return oh * ow; }
  int64_t image() const { return c_in * h * w; }
  // A 1x1, stride-1, unpadded kernel's columns are the image itself.
  bool identity_columns() const { return kh == 1 && kw == 1 && stride == 1 && pad == 0; }
};

// Grow-only per-thread scratch: OpenMP keeps its pool threads, so steady-state steps never allocate.
thread_local std::vector<float> tl_columns;

float* columns_scratch(int64_t floats) {
  if (static_cast<int64_t>(tl_columns.size()) < floats) tl_columns.resize(static_cast<size_t>(floats));
  return tl_columns.data();
}

// Output positions [lo, hi) whose input coordinate o * stride + offset lies in [0, size).
void valid_range(int64_t offset, int64_t stride, int64_t size, int64_t out, int64_t& lo, int64_t& hi) {
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  hi = size - 1 - offset < 0 ? 0 : std::min(out, (size - 1 - offset) / stride + 1);
  lo = std::min(lo, hi);
}

// "Same"-width convolutions (stride 1, kw = 2*pad + 1, so ow == w; e.g. 3x3 with padding 1): a
// column row is the image plane shifted by (i - pad) * w + (j - pad), with the columns that fall
// into the padding zeroed. One contiguous copy per row replaces oh copies of w floats each.
bool same_width(const ConvGeometry& g) { return g.stride == 1 && g.ow == g.w; }

struct ShiftedRow {
  int64_t shift;       // plane index minus column index
  int64_t begin, end;  // column indices whose plane index lies inside the plane
  int64_t lo, hi;      // valid ox range; ox outside it reads padding
  int64_t y_lo, y_hi;  // valid oy range
};

ShiftedRow shifted_row(const ConvGeometry& g, int64_t i, int64_t j) {
  ShiftedRow r;
  r.shift = (i - g.pad) * g.w + (j - g.pad);
  valid_range(j - g.pad, 1, g.w, g.ow, r.lo, r.hi);
  valid_range(i - g.pad, 1, g.h, g.oh, r.y_lo, r.y_hi);
  r.begin = std::max(r.y_lo * g.ow, -r.shift);
  r.end = std::max(r.begin, std::min(r.y_hi * g.ow, g.h * g.w - r.shift));
  return r;
}

// Zeroes the padding columns ox outside [lo, hi) of the valid rows of one column row.
void zero_padding_columns(const ConvGeometry& g, const ShiftedRow& r, float* row) {
  if (r.lo == 0 && r.hi == g.ow) return;
  for (int64_t oy = r.y_lo; oy < r.y_hi; ++oy) {
    std::fill(row + oy * g.ow, row + oy * g.ow + r.lo, 0.0f);
    std::fill(row + oy * g.ow + r.hi, row + (oy + 1) * g.ow, 0.0f);
  }
}

void im2col_same(const float* x, const ConvGeometry& g, float* col) {
  const int64_t p = g.pixels();
  for (int64_t c = 0; c < g.c_in; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((c * g.kh + i) * g.kw + j) * p;
        const ShiftedRow r = shifted_row(g, i, j);
        std::fill(row, row + r.begin, 0.0f);
        std::copy(x + c * g.h * g.w + r.begin + r.shift, x + c * g.h * g.w + r.end + r.shift, row + r.begin);
        std::fill(row + r.end, row + p, 0.0f);
        zero_padding_columns(g, r, row);
      }
    }
  }
}

// The adjoint of im2col_same. Clears the padding columns of `col` (scratch) first so the
// contiguous add does not carry them into the neighbouring image row.
void col2im_same(float* col, const ConvGeometry& g, float* dx) {
  std::fill(dx, dx + g.image(), 0.0f);
  for (int64_t c = 0; c < g.c_in; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((c * g.kh + i) * g.kw + j) * g.pixels();
        const ShiftedRow r = shifted_row(g, i, j);
        zero_padding_columns(g, r, row);
        float* dst = dx + c * g.h * g.w + r.shift;
#pragma omp simd
        for (int64_t q = r.begin; q < r.end; ++q) dst[q] += row[q];
      }
    }
  }
}

// col[(c, i, j), (oy, ox)] = x[c, oy*s - pad + i, ox*s - pad + j], zero outside the image.
void im2col(const float* x, const ConvGeometry& g, float* col) {
  if (same_width(g)) return im2col_same(x, g, col);
  for (int64_t c = 0; c < g.c_in; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((c * g.kh + i) * g.kw + j) * g.pixels();
        int64_t lo, hi;
        valid_range(j - g.pad, g.stride, g.w, g.ow, lo, hi);
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          float* dst = row + oy * g.ow;
          const int64_t iy = oy * g.stride - g.pad + i;
          if (iy < 0 || iy >= g.h) {
            std::fill(dst, dst + g.ow, 0.0f);
            continue;
          }
          const float* src = x + (c * g.h + iy) * g.w + lo * g.stride + j - g.pad;
          std::fill(dst, dst + lo, 0.0f);
          if (g.stride == 1) {
            std::copy(src, src + (hi - lo), dst + lo);
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox] = src[(ox - lo) * g.stride];
          }
          std::fill(dst + hi, dst + g.ow, 0.0f);
        }
      }
    }
  }
}

// The adjoint of im2col (may overwrite col): dx = 0, then every column entry adds into the pixel it was read from.
void col2im(float* col, const ConvGeometry& g, float* dx) {
  if (same_width(g)) return col2im_same(col, g, dx);
  std::fill(dx, dx + g.image(), 0.0f);
  for (int64_t c = 0; c < g.c_in; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = col + ((c * g.kh + i) * g.kw + j) * g.pixels();
        int64_t lo, hi;
        valid_range(j - g.pad, g.stride, g.w, g.ow, lo, hi);
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t iy = oy * g.stride - g.pad + i;
          if (iy < 0 || iy >= g.h) continue;
          const float* src = row + oy * g.ow;
          float* dst = dx + (c * g.h + iy) * g.w + lo * g.stride + j - g.pad;
          if (g.stride == 1) {
#pragma omp simd
            for (int64_t ox = lo; ox < hi; ++ox) dst[ox - lo] += src[ox];
          } else {
            for (int64_t ox = lo; ox < hi; ++ox) dst[(ox - lo) * g.stride] += src[ox];
          }
        }
      }
    }
  }
}

// Below this many multiply-adds per call a fork/join costs more than it saves.
constexpr int64_t kParallelMacs = 1 << 17;

// Whole images per thread when every thread gets one; otherwise one image at a time with the
// GEMM splitting each product across the threads.
int batch_workers(const ConvGeometry& g) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t macs = g.batch * g.c_out * g.rows() * g.pixels();
  return g.batch >= threads && macs >= kParallelMacs ? threads : 1;
}

void conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* b, float* y) {
  const int64_t k = g.rows(), p = g.pixels();
  const int workers = batch_workers(g);
#pragma omp parallel num_threads(workers) if (workers > 1)
  {
    float* col = g.identity_columns() ? nullptr : columns_scratch(k * p);
    const int64_t tid = omp_get_thread_num(), nth = omp_get_num_threads();
    for (int64_t n = g.batch * tid / nth; n < g.batch * (tid + 1) / nth; ++n) {
      const float* xn = x + n * g.image();
      float* yn = y + n * g.c_out * p;
      if (col) im2col(xn, g, col);
      kernels::gemm(false, false, g.c_out, p, k, 1.0f, w, k, col ? col : xn, p, 0.0f, yn, p);
      if (!b) continue;
      for (int64_t c = 0; c < g.c_out; ++c) {
        float* yc = yn + c * p;
        const float bc = b[c];
#pragma omp simd
        for (int64_t q = 0; q < p; ++q) yc[q] += bc;
      }
    }
  }
}

struct ConvGrads {
  float* dx;  // [batch, c_in, h, w] or nullptr
  float* dw;  // [workers, c_out, k] partial sums or nullptr
  float* db;  // [workers, c_out] partial sums or nullptr
};

// One thread's share of the batch: dW and db accumulate into that thread's partial buffers,
// which the caller sums in a fixed order (results do not depend on scheduling).
void conv_backward_share(const ConvGeometry& g, const float* x, const float* w, const float* dy,
                         const ConvGrads& out, int64_t tid, int64_t nth) {
  const int64_t k = g.rows(), p = g.pixels();
  float* dw = out.dw ? out.dw + tid * g.c_out * k : nullptr;
  float* db = out.db ? out.db + tid * g.c_out : nullptr;
  if (dw) std::fill(dw, dw + g.c_out * k, 0.0f);
  if (db) std::fill(db, db + g.c_out, 0.0f);
  float* col = g.identity_columns() ? nullptr : columns_scratch(k * p);
  for (int64_t n = g.batch * tid / nth; n < g.batch * (tid + 1) / nth; ++n) {
    const float* dyn = dy + n * g.c_out * p;
    if (dw) {
      const float* xn = x + n * g.image();
      if (col) im2col(xn, g, col);
      kernels::gemm(false, true, g.c_out, k, p, 1.0f, dyn, p, col ? col : xn, p, 1.0f, dw, k);
    }
    if (db) {
      for (int64_t c = 0; c < g.c_out; ++c) {
        const float* row = dyn + c * p;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t q = 0; q < p; ++q) s += row[q];
        db[c] += s;
      }
    }
    if (out.dx) {
      float* dxn = out.dx + n * g.image();
      // Identity columns: W^T dy_n is dx_n itself.
      kernels::gemm(true, false, k, p, g.c_out, 1.0f, w, k, dyn, p, 0.0f, col ? col : dxn, p);
      if (col) col2im(col, g, dxn);
    }
  }
}

// Sums `parts` consecutive blocks of `size` floats into a new tensor of `shape`.
Tensor sum_partials(const std::vector<float>& partials, int64_t parts, const Shape& shape) {
  Tensor out(shape);
  const int64_t size = shape.numel();
  float* o = out.data();
  std::copy(partials.begin(), partials.begin() + size, o);
  for (int64_t t = 1; t < parts; ++t) {
    const float* src = partials.data() + t * size;
#pragma omp simd
    for (int64_t i = 0; i < size; ++i) o[i] += src[i];
  }
  return out;
}

void conv_backward(const ConvGeometry& g, std::vector<Variable>& in, const Tensor& dy) {
  const bool need_x = in[0].requires_grad(), need_w = in[1].requires_grad();
  const bool need_b = in.size() > 2 && in[2].requires_grad();
  const int workers = batch_workers(g);
  Tensor dx = need_x ? Tensor(in[0].shape()) : Tensor();
  std::vector<float> dw(need_w ? workers * g.c_out * g.rows() : 0), db(need_b ? workers * g.c_out : 0);
  const ConvGrads out{need_x ? dx.data() : nullptr, need_w ? dw.data() : nullptr, need_b ? db.data() : nullptr};
  const float* x = in[0].data().data();
  const float* w = in[1].data().data();
#pragma omp parallel num_threads(workers) if (workers > 1)
  conv_backward_share(g, x, w, dy.data(), out, omp_get_thread_num(), omp_get_num_threads());
  if (need_x) in[0].add_grad(dx);
  if (need_w) in[1].add_grad(sum_partials(dw, workers, in[1].shape()));
  if (need_b) in[2].add_grad(sum_partials(db, workers, in[2].shape()));
}

ConvGeometry conv_geometry(const Shape& xs, const Shape& ws, const Variable& bias, int64_t stride,
                           int64_t padding) {
  const std::string shapes = " (input " + xs.to_string() + ", weight " + ws.to_string() + ")";
  if (xs.ndim() != 4) throw std::invalid_argument("conv2d: input must be 4-D [n, c_in, h, w]" + shapes);
  if (ws.ndim() != 4) throw std::invalid_argument("conv2d: weight must be 4-D [c_out, c_in, kh, kw]" + shapes);
  if (xs[1] != ws[1]) {
    throw std::invalid_argument("conv2d: input channels " + std::to_string(xs[1]) + " != weight in-channels " +
                                std::to_string(ws[1]) + shapes);
  }
  if (bias.defined() && bias.shape() != Shape{ws[0]}) {
    throw std::invalid_argument("conv2d: bias shape " + bias.shape().to_string() + " != [" +
                                std::to_string(ws[0]) + "]" + shapes);
  }
  if (stride < 1 || padding < 0) {
    throw std::invalid_argument("conv2d: stride " + std::to_string(stride) + " must be >= 1 and padding " +
                                std::to_string(padding) + " >= 0" + shapes);
  }
  const int64_t ph = xs[2] + 2 * padding, pw = xs[3] + 2 * padding;
  if (ws[2] > ph || ws[3] > pw) {
    throw std::invalid_argument("conv2d: kernel " + std::to_string(ws[2]) + "x" + std::to_string(ws[3]) +
                                " larger than padded input " + std::to_string(ph) + "x" + std::to_string(pw) +
                                " (padding " + std::to_string(padding) + ")" + shapes);
  }
  return {xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], stride, padding,
          (ph - ws[2]) / stride + 1, (pw - ws[3]) / stride + 1};
}

}  // namespace

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias, int64_t stride, int64_t padding) {
  const ConvGeometry g = conv_geometry(x.shape(), weight.shape(), bias, stride, padding);
  Tensor out(Shape{g.batch, g.c_out, g.oh, g.ow});
  conv_forward(g, x.data().data(), weight.data().data(), bias.defined() ? bias.data().data() : nullptr, out.data());
  auto backward = [g](std::vector<Variable>& in, const Tensor& grad) { conv_backward(g, in, grad); };
  if (!bias.defined()) return Variable(out, {x, weight}, backward, "conv2d");
  return Variable(out, {x, weight, bias}, backward, "conv2d");
}

}  // namespace qforge::autograd
