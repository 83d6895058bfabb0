// Op cases: softmax, log_softmax over every kind of axis, cross_entropy and mse_loss.
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

QFORGE_OP_CASES({
    {"softmax_last", {{{3, 5}}}, "torch.softmax(x0, -1)", [](const CaseInputs& x) { return ag::softmax(x[0]); }},
    {"softmax_1d", {{{7}}}, "torch.softmax(x0, 0)", [](const CaseInputs& x) { return ag::softmax(x[0], 0); }},
    {"softmax_axis0", {{{4, 3}}}, "torch.softmax(x0, 0)", [](const CaseInputs& x) { return ag::softmax(x[0], 0); }},
    {"softmax_middle", {{{2, 3, 4}}}, "torch.softmax(x0, 1)",
     [](const CaseInputs& x) { return ag::softmax(x[0], 1); }},
    {"softmax_negative_axis", {{{2, 3, 4}}}, "torch.softmax(x0, -2)",
     [](const CaseInputs& x) { return ag::softmax(x[0], -2); }},
    {"softmax_4d_axis1", {{{2, 3, 2, 2}}}, "torch.softmax(x0, 1)",
     [](const CaseInputs& x) { return ag::softmax(x[0], 1); }},
    // inner = 300 spans two column blocks of the strided kernel.
    {"softmax_wide_inner", {{{2, 3, 300}}}, "torch.softmax(x0, 1)",
     [](const CaseInputs& x) { return ag::softmax(x[0], 1); }},
    {"softmax_single_class", {{{3, 1}}}, "torch.softmax(x0, -1)",
     [](const CaseInputs& x) { return ag::softmax(x[0]); }},
    // Large logits: only the max shift keeps exp finite.
    {"softmax_large_logits", {{{3, 6}}}, "torch.softmax(x0 * 40, -1)",
     [](const CaseInputs& x) { return ag::softmax(x[0] * 40.0f); }, 1e-3},
    {"log_softmax_last", {{{3, 5}}}, "torch.log_softmax(x0, -1)",
     [](const CaseInputs& x) { return ag::log_softmax(x[0]); }},
    {"log_softmax_axis0", {{{4, 3}}}, "torch.log_softmax(x0, 0)",
     [](const CaseInputs& x) { return ag::log_softmax(x[0], 0); }},
    {"log_softmax_negative_axis", {{{2, 3, 4}}}, "torch.log_softmax(x0, -3)",
     [](const CaseInputs& x) { return ag::log_softmax(x[0], -3); }},
    {"log_softmax_wide_inner", {{{2, 3, 300}}}, "torch.log_softmax(x0, 1)",
     [](const CaseInputs& x) { return ag::log_softmax(x[0], 1); }},
    {"log_softmax_large_logits", {{{3, 6}}}, "torch.log_softmax(x0 * 40, -1)",
     [](const CaseInputs& x) { return ag::log_softmax(x[0] * 40.0f); }, 1e-3},
    {"cross_entropy", {{{6, 5}}, {{6}, InputKind::kIndex, 5}}, "F.cross_entropy(x0, x1)",
     [](const CaseInputs& x) { return ag::cross_entropy(x[0], x.index(1)); }},
    // Targets in [0, 3) with ignore_index 0: some rows drop out of the mean.
    {"cross_entropy_ignore_index", {{{10, 3}}, {{10}, InputKind::kIndex, 3}}, "F.cross_entropy(x0, x1, ignore_index=0)",
     [](const CaseInputs& x) { return ag::cross_entropy(x[0], x.index(1), 0); }},
    {"cross_entropy_ignore_last_class", {{{12, 4}}, {{12}, InputKind::kIndex, 4}},
     "F.cross_entropy(x0, x1, ignore_index=3)",
     [](const CaseInputs& x) { return ag::cross_entropy(x[0], x.index(1), 3); }},
    {"cross_entropy_large_logits", {{{4, 7}}, {{4}, InputKind::kIndex, 7}}, "F.cross_entropy(x0 * 30, x1)",
     [](const CaseInputs& x) { return ag::cross_entropy(x[0] * 30.0f, x.index(1)); }, 1e-3},
    {"cross_entropy_single_row", {{{1, 9}}, {{1}, InputKind::kIndex, 9}}, "F.cross_entropy(x0, x1)",
     [](const CaseInputs& x) { return ag::cross_entropy(x[0], x.index(1)); }},
    {"cross_entropy_single_class", {{{3, 1}}, {{3}, InputKind::kIndex, 1}}, "F.cross_entropy(x0, x1)",
     [](const CaseInputs& x) { return ag::cross_entropy(x[0], x.index(1)); }},
    {"mse_loss", {{{3, 4}}, {{3, 4}, InputKind::kConstant}}, "F.mse_loss(x0, x1)",
     [](const CaseInputs& x) { return ag::mse_loss(x[0], x[1]); }},
    {"mse_loss_both_grads", {{{2, 3, 4}}, {{2, 3, 4}}}, "F.mse_loss(x0, x1)",
     [](const CaseInputs& x) { return ag::mse_loss(x[0], x[1]); }},
    {"mse_loss_scalar", {{Shape{}}, {Shape{}, InputKind::kConstant}}, "F.mse_loss(x0, x1)",
     [](const CaseInputs& x) { return ag::mse_loss(x[0], x[1]); }},
});

}  // namespace qforge::testing
