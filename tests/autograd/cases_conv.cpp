// Op cases: 2-D convolution and pooling on NCHW tensors. Shapes cover stride 2 and 3, padding
// (including windows that see only padding), no bias, rectangular and 1x1 kernels (the latter
// skip im2col), odd sizes whose last row/column is dropped, several channels, and batches that
// split unevenly across two threads.
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

// max_pool2d is piecewise linear: a small step keeps the perturbed element from overtaking a
// window neighbour closer than the default 5e-3 (the output is an input, so no rounding is lost).
constexpr double kPoolStep = 1e-4;
// conv2d is linear in each input, so a large step has no truncation error and shrinks the float
// rounding noise of the wide sums (about 1e-3 at the default step with 72+ terms per output).
constexpr double kLinearStep = 5e-2;

QFORGE_OP_CASES({
    {"conv2d_basic", {{{2, 3, 5, 5}}, {{4, 3, 3, 3}}, {{4}}}, "F.conv2d(x0, x1, x2)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2]); }},
    {"conv2d_pad1", {{{2, 2, 6, 6}}, {{3, 2, 3, 3}}, {{3}}}, "F.conv2d(x0, x1, x2, stride=1, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }},
    {"conv2d_stride2_pad1", {{{3, 2, 7, 7}}, {{4, 2, 3, 3}}, {{4}}}, "F.conv2d(x0, x1, x2, stride=2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 2, 1); }},
    {"conv2d_stride2_odd", {{{2, 3, 9, 8}}, {{2, 3, 3, 3}}, {{2}}}, "F.conv2d(x0, x1, x2, stride=2)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 2, 0); }},
    {"conv2d_no_bias", {{{2, 3, 6, 5}}, {{4, 3, 3, 3}}}, "F.conv2d(x0, x1, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], Variable(), 1, 1); }},
    {"conv2d_rect_kernel_pad2", {{{1, 2, 5, 7}}, {{3, 2, 2, 3}}, {{3}}}, "F.conv2d(x0, x1, x2, padding=2)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 2); }},
    // Same-width rows (stride 1, kw = 2 * pad + 1) take the contiguous-shift im2col path; these two
    // add a 2x3 kernel (oh = h + 1 while ow = w) and a one-pixel-wide image.
    {"conv2d_same_width_rect", {{{2, 2, 4, 5}}, {{3, 2, 2, 3}}, {{3}}}, "F.conv2d(x0, x1, x2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }},
    {"conv2d_same_width_1px", {{{2, 1, 5, 1}}, {{2, 1, 3, 3}}, {{2}}}, "F.conv2d(x0, x1, x2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }},
    {"conv2d_stride3_pad2", {{{2, 2, 8, 7}}, {{3, 2, 4, 4}}, {{3}}}, "F.conv2d(x0, x1, x2, stride=3, padding=2)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 3, 2); }},
    {"conv2d_kernel_fills_padded", {{{2, 1, 3, 3}}, {{2, 1, 5, 5}}, {{2}}}, "F.conv2d(x0, x1, x2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }},
    {"conv2d_1x1", {{{2, 4, 3, 3}}, {{5, 4, 1, 1}}, {{5}}}, "F.conv2d(x0, x1, x2)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2]); }},
    {"conv2d_1x1_stride2", {{{2, 3, 5, 5}}, {{2, 3, 1, 1}}}, "F.conv2d(x0, x1, stride=2)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], Variable(), 2, 0); }},
    // Batch 5: an uneven split of whole images across threads, each with its own dW partial.
    {"conv2d_batch5", {{{5, 8, 8, 8}}, {{8, 8, 3, 3}}, {{8}}}, "F.conv2d(x0, x1, x2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }, kLinearStep},
    // Single image: the GEMM, not the batch loop, is parallel.
    {"conv2d_batch1", {{{1, 3, 6, 6}}, {{4, 3, 3, 3}}, {{4}}}, "F.conv2d(x0, x1, x2, stride=2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 2, 1); }},
    // Large enough for the packed GEMM path (not the tiny triple loop) in all three products.
    {"conv2d_wide_channels", {{{2, 16, 6, 6}}, {{12, 16, 3, 3}}, {{12}}}, "F.conv2d(x0, x1, x2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }, kLinearStep},
    {"conv2d_const_weight", {{{2, 2, 5, 5}}, {{3, 2, 3, 3}, InputKind::kConstant}, {{3}, InputKind::kConstant}},
     "F.conv2d(x0, x1, x2, stride=2, padding=1)",
     [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 2, 1); }},
    {"conv2d_const_input", {{{2, 2, 5, 5}, InputKind::kConstant}, {{3, 2, 3, 3}}, {{3}}},
     "F.conv2d(x0, x1, x2, padding=1)", [](const CaseInputs& x) { return ag::conv2d(x[0], x[1], x[2], 1, 1); }},
    {"max_pool2d_k2", {{{2, 3, 6, 6}}}, "F.max_pool2d(x0, 2)",
     [](const CaseInputs& x) { return ag::max_pool2d(x[0], 2); }, kPoolStep},
    {"max_pool2d_odd", {{{2, 2, 7, 5}}}, "F.max_pool2d(x0, 2)",
     [](const CaseInputs& x) { return ag::max_pool2d(x[0], 2); }, kPoolStep},
    {"max_pool2d_k3_s2_overlap", {{{1, 3, 7, 7}}}, "F.max_pool2d(x0, 3, 2)",
     [](const CaseInputs& x) { return ag::max_pool2d(x[0], 3, 2); }, kPoolStep},
    {"max_pool2d_k2_s1", {{{2, 1, 5, 6}}}, "F.max_pool2d(x0, 2, 1)",
     [](const CaseInputs& x) { return ag::max_pool2d(x[0], 2, 1); }, kPoolStep},
    {"max_pool2d_k2_s3", {{{1, 2, 8, 7}}}, "F.max_pool2d(x0, 2, 3)",
     [](const CaseInputs& x) { return ag::max_pool2d(x[0], 2, 3); }, kPoolStep},
    {"max_pool2d_global", {{{2, 3, 4, 4}}}, "F.max_pool2d(x0, 4)",
     [](const CaseInputs& x) { return ag::max_pool2d(x[0], 4); }, kPoolStep},
    {"avg_pool2d_k2", {{{2, 3, 6, 6}}}, "F.avg_pool2d(x0, 2)",
     [](const CaseInputs& x) { return ag::avg_pool2d(x[0], 2); }},
    {"avg_pool2d_odd", {{{2, 2, 7, 5}}}, "F.avg_pool2d(x0, 2)",
     [](const CaseInputs& x) { return ag::avg_pool2d(x[0], 2); }},
    {"avg_pool2d_k3_s2_overlap", {{{1, 3, 7, 7}}}, "F.avg_pool2d(x0, 3, 2)",
     [](const CaseInputs& x) { return ag::avg_pool2d(x[0], 3, 2); }},
    {"avg_pool2d_k2_s3", {{{1, 2, 8, 7}}}, "F.avg_pool2d(x0, 2, 3)",
     [](const CaseInputs& x) { return ag::avg_pool2d(x[0], 2, 3); }},
    {"avg_pool2d_global", {{{2, 3, 5, 5}}}, "F.avg_pool2d(x0, 5)",
     [](const CaseInputs& x) { return ag::avg_pool2d(x[0], 5); }},
    {"conv_pool_chain", {{{2, 2, 8, 8}}, {{3, 2, 3, 3}}, {{3}}}, "F.max_pool2d(F.conv2d(x0, x1, x2, padding=1), 2)",
     [](const CaseInputs& x) { return ag::max_pool2d(ag::conv2d(x[0], x[1], x[2], 1, 1), 2); }},
});

}  // namespace qforge::testing
