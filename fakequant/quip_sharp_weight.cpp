// QuIP# weights (quip_sharp_weight.h): the decode from codes, signs and scale, and its gradient.
#include "fakequant/quip_sharp_weight.h"

#include <algorithm>
#include <stdexcept>

#include "fakequant/formats/e8p.h"
#include "fakequant/hadamard.h"

namespace qforge::fakequant {
namespace {

using autograd::Shape;
using autograd::Tensor;
using autograd::Variable;

constexpr const char* kLayout = "quip_sharp_layout";

void fail(const std::string& what) { throw std::invalid_argument("quip_sharp weight: " + what); }

void check_state(const QuipSharpState& s) {
  if (s.rows <= 0 || s.cols <= 0 || s.cols % kE8pDim != 0)
    fail("rows " + std::to_string(s.rows) + " x cols " + std::to_string(s.cols) + ": cols must be a positive multiple of 8");
  (void)hadamard_factor(s.rows), (void)hadamard_factor(s.cols);  // sizes without a transform throw
  const auto expect = [](size_t got, int64_t want, const std::string& name) {
    if (got != static_cast<size_t>(want)) fail(name + " has " + std::to_string(got) + " values, expected " + std::to_string(want));
  };
  expect(s.codes.size(), s.rows * s.cols / kE8pDim, "codes");
  expect(s.su.size(), s.cols, "su");
  expect(s.sv.size(), s.rows, "sv");
  for (int64_t c : s.codes)
    if (c < 0 || c >= kE8pCodes) fail("code " + std::to_string(c) + " is not a 16-bit E8P code");
  if (s.is_slice() && !(0 <= s.row_begin && s.row_begin < s.row_end && s.row_end <= s.rows))
    fail("rows [" + std::to_string(s.row_begin) + ", " + std::to_string(s.row_end) + ") are not a slice of the " +
         std::to_string(s.rows) + " fused rows");
}

// The layout buffer: [rows, cols, version] or, for a slice, [rows, cols, version, row_begin, row_end].
std::vector<int64_t> layout_of(const QuipSharpState& s) {
  std::vector<int64_t> l{s.rows, s.cols, kQuipSharpCodebookE8p12};
  if (s.is_slice()) l.insert(l.end(), {s.row_begin, s.row_end});
  return l;
}

bool valid_layout(const std::vector<int64_t>& l) { return (l.size() == 3 || l.size() == 5) && l[2] == kQuipSharpCodebookE8p12; }

// M = T_out^T E8P(codes) T_in: the rows through T_in^T, then the columns through T_out^T (double).
std::vector<float> transformed(const std::vector<int64_t>& codes, int64_t rows, int64_t cols) {
  const int64_t blocks = cols / kE8pDim;
  std::vector<double> q(static_cast<size_t>(rows * cols));
  const HadamardTransform t_in(cols), t_out(rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < blocks; ++k) {
      const auto value = e8p_decode(static_cast<uint16_t>(codes[r * blocks + k]));
      std::copy(value.begin(), value.end(), q.begin() + r * cols + k * kE8pDim);
    }
    t_in.apply(q.data() + r * cols, /*transpose=*/true);
  }
  std::vector<double> column(static_cast<size_t>(rows));
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < rows; ++r) column[r] = q[r * cols + c];
    t_out.apply(column.data(), /*transpose=*/true);
    for (int64_t r = 0; r < rows; ++r) q[r * cols + c] = column[r];
  }
  return std::vector<float>(q.begin(), q.end());
}

// W_ij = float(((Wscale * SV_i) * M_ij) * SU_j) in double for the rows [begin, end): the one formula of the
// forward and the decode.
void compose(const std::vector<float>& m, const float* su, const float* sv, float wscale, int64_t begin, int64_t end,
             int64_t cols, float* out) {
  for (int64_t r = begin; r < end; ++r) {
    const double row_scale = static_cast<double>(wscale) * sv[r];
    for (int64_t c = 0; c < cols; ++c)
      out[(r - begin) * cols + c] = static_cast<float>(row_scale * static_cast<double>(m[r * cols + c]) * su[c]);
  }
}

layers::IntBuffer buffer_of(std::vector<int64_t> values) { return std::make_shared<std::vector<int64_t>>(std::move(values)); }

Tensor tensor_of(const std::vector<float>& values) {
  Tensor t(Shape{static_cast<int64_t>(values.size())});
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

}  // namespace

const std::vector<QuipSharpFusedModule>& quip_sharp_fused_modules() {
  static const std::vector<QuipSharpFusedModule> kModules{
      {"self_attn.qkv_proj", {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"}},
      {"mlp.upgate_proj", {"mlp.up_proj", "mlp.gate_proj"}},
  };
  return kModules;
}

std::vector<float> quip_sharp_weight(const QuipSharpState& s) {
  check_state(s);
  std::vector<float> out(static_cast<size_t>(s.layer_rows() * s.cols));
  compose(transformed(s.codes, s.rows, s.cols), s.su.data(), s.sv.data(), s.wscale, s.row_begin, s.row_begin + s.layer_rows(),
          s.cols, out.data());
  return out;
}

QuipSharpWeightQuantizer::QuipSharpWeightQuantizer(const QuipSharpState& s) {
  check_state(s);
  layout_ = register_buffer(kLayout, buffer_of(layout_of(s)));
  codes_ = register_buffer("codes", buffer_of(s.codes));
  su_ = register_parameter("su", tensor_of(s.su), /*requires_grad=*/false);
  sv_ = register_parameter("sv", tensor_of(s.sv), /*requires_grad=*/false);
  wscale_ = register_parameter("wscale", tensor_of({s.wscale}), /*requires_grad=*/false);
}

QuipSharpState QuipSharpWeightQuantizer::state() const {
  QuipSharpState s;
  s.rows = (*layout_)[0], s.cols = (*layout_)[1];
  s.codes = *codes_;
  s.su = su_.data().to_vector(), s.sv = sv_.data().to_vector();
  s.wscale = wscale_.data().data()[0];
  if (layout_->size() == 5) s.row_begin = (*layout_)[3], s.row_end = (*layout_)[4];
  return s;
}

void QuipSharpWeightQuantizer::set_signs_trainable(bool trainable) {
  su_.set_requires_grad(trainable);
  sv_.set_requires_grad(trainable);
}

void QuipSharpWeightQuantizer::check() const {
  if (!valid_layout(*layout_))
    fail("layout must be [rows, cols, codebook version " + std::to_string(kQuipSharpCodebookE8p12) + "(, row_begin, row_end)]");
  check_state(state());
}

const std::vector<float>& QuipSharpWeightQuantizer::transformed_codewords() const {
  if (m_.empty() || cached_codes_ != *codes_) {
    check();  // a load may have brought codes this layout cannot hold
    m_ = transformed(*codes_, (*layout_)[0], (*layout_)[1]);
    cached_codes_ = *codes_;
  }
  return m_;
}

Variable QuipSharpWeightQuantizer::forward(const Variable& x) {
  const std::vector<float>& m = transformed_codewords();  // checks the layout first
  const int64_t rows = (*layout_)[0], cols = (*layout_)[1];
  const int64_t begin = layout_->size() == 5 ? (*layout_)[3] : 0, end = layout_->size() == 5 ? (*layout_)[4] : rows;
  if (x.ndim() != 2 || x.dim(0) != end - begin || x.dim(1) != cols)
    fail("latent weight " + x.shape().to_string() + " is not [" + std::to_string(end - begin) + ", " + std::to_string(cols) + "]");
  const float wscale = wscale_.data().data()[0];
  Tensor out(Shape{end - begin, cols});
  compose(m, su_.data().data(), sv_.data().data(), wscale, begin, end, cols, out.data());
  // dW_ij/dSV_i = Wscale M_ij SU_j and dW_ij/dSU_j = Wscale SV_i M_ij (double sums in a fixed order); a
  // slice's rows are those of its fused matrix, the other SV entries get no gradient.
  auto backward = [this, rows, cols, begin, end, wscale](std::vector<Variable>& in, const Tensor& g) {
    const std::vector<float>& mm = m_;
    const float *su = in[0].data().data(), *sv = in[1].data().data(), *grad = g.data();
    std::vector<double> d_su(static_cast<size_t>(cols), 0.0), d_sv(static_cast<size_t>(rows), 0.0);
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const double gm = static_cast<double>(grad[(r - begin) * cols + c]) * wscale * mm[r * cols + c];
        d_sv[r] += gm * su[c];
        d_su[c] += gm * sv[r];
      }
    }
    if (in[0].requires_grad()) in[0].add_grad(tensor_of(std::vector<float>(d_su.begin(), d_su.end())));
    if (in[1].requires_grad()) in[1].add_grad(tensor_of(std::vector<float>(d_sv.begin(), d_sv.end())));
  };
  return Variable(out, {su_, sv_}, backward, "quip_sharp_weight");
}

std::shared_ptr<QuipSharpWeightQuantizer> saved_quip_sharp_quantizer(const std::string& prefix,
                                                                     const std::map<std::string, std::vector<int64_t>>& buffers) {
  const auto layout = buffers.find(prefix + kLayout);
  if (layout == buffers.end()) return nullptr;
  const std::vector<int64_t>& l = layout->second;
  if (!valid_layout(l))
    fail(prefix + kLayout + ": expected [rows, cols, codebook version " + std::to_string(kQuipSharpCodebookE8p12) +
         "(, row_begin, row_end)]");
  QuipSharpState s;
  s.rows = l[0], s.cols = l[1];
  if (l.size() == 5) s.row_begin = l[3], s.row_end = l[4];
  if (s.rows <= 0 || s.cols <= 0 || s.cols % kE8pDim != 0) fail(prefix + kLayout + ": bad sizes");
  s.codes.assign(static_cast<size_t>(s.rows * s.cols / kE8pDim), 0);
  s.su.assign(static_cast<size_t>(s.cols), 1.0f), s.sv.assign(static_cast<size_t>(s.rows), 1.0f);
  return std::make_shared<QuipSharpWeightQuantizer>(s);
}

}  // namespace qforge::fakequant
