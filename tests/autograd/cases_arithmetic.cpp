// Op cases: broadcasting arithmetic, scalar ops and matrix products.
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

QFORGE_OP_CASES({
    {"add_same", {{{3, 4}}, {{3, 4}}}, "x0 + x1", [](const CaseInputs& x) { return x[0] + x[1]; }},
    {"add_row_broadcast", {{{2, 3, 4}}, {{4}}}, "x0 + x1", [](const CaseInputs& x) { return x[0] + x[1]; }},
    {"add_both_broadcast", {{{3, 1, 5}}, {{1, 4, 1}}}, "x0 + x1", [](const CaseInputs& x) { return x[0] + x[1]; }},
    {"add_scalar_tensor", {{{2, 3}}, {Shape{}}}, "x0 + x1", [](const CaseInputs& x) { return x[0] + x[1]; }},
    {"sub_column_broadcast", {{{4, 3}}, {{4, 1}}}, "x0 - x1", [](const CaseInputs& x) { return x[0] - x[1]; }},
    {"sub_lead_broadcast", {{{3}}, {{2, 2, 3}}}, "x0 - x1", [](const CaseInputs& x) { return x[0] - x[1]; }},
    {"mul_same", {{{5, 6}}, {{5, 6}}}, "x0 * x1", [](const CaseInputs& x) { return x[0] * x[1]; }},
    {"mul_middle_broadcast", {{{2, 3, 4}}, {{2, 1, 4}}}, "x0 * x1", [](const CaseInputs& x) { return x[0] * x[1]; }},
    {"mul_4d_broadcast", {{{2, 1, 3, 1}}, {{1, 2, 1, 4}}}, "x0 * x1", [](const CaseInputs& x) { return x[0] * x[1]; }},
    {"div_same", {{{3, 4}}, {{3, 4}, InputKind::kPositive}}, "x0 / x1",
     [](const CaseInputs& x) { return x[0] / x[1]; }},
    {"div_broadcast", {{{1, 4}, InputKind::kPositive}, {{3, 1}, InputKind::kPositive}}, "x0 / x1",
     [](const CaseInputs& x) { return x[0] / x[1]; }},
    {"add_scalar", {{{3, 4}}}, "x0 + 2.5", [](const CaseInputs& x) { return x[0] + 2.5f; }},
    {"rsub_scalar", {{{3, 4}}}, "1.5 - x0", [](const CaseInputs& x) { return 1.5f - x[0]; }},
    {"mul_scalar", {{{3, 4}}}, "x0 * -0.75", [](const CaseInputs& x) { return x[0] * -0.75f; }},
    {"neg", {{{3, 4}}}, "-x0", [](const CaseInputs& x) { return -x[0]; }},
    {"pow_square", {{{3, 4}}}, "x0 ** 2", [](const CaseInputs& x) { return ag::pow(x[0], 2.0f); }},
    {"pow_fractional", {{{3, 4}, InputKind::kPositive}}, "x0 ** 1.5",
     [](const CaseInputs& x) { return ag::pow(x[0], 1.5f); }},
    {"pow_negative", {{{3, 4}, InputKind::kPositive}}, "x0 ** -0.5",
     [](const CaseInputs& x) { return ag::pow(x[0], -0.5f); }},
    {"matmul_2d", {{{5, 7}}, {{7, 3}}}, "x0 @ x1", [](const CaseInputs& x) { return ag::matmul(x[0], x[1]); }},
    {"matmul_transpose_a", {{{7, 5}}, {{7, 3}}}, "x0.t() @ x1",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1], true, false); }},
    {"matmul_transpose_b", {{{5, 7}}, {{3, 7}}}, "x0 @ x1.t()",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1], false, true); }},
    {"matmul_transpose_both", {{{7, 5}}, {{3, 7}}}, "x0.t() @ x1.t()",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1], true, true); }},
    {"matmul_linear_batch", {{{2, 3, 6}}, {{4, 6}}}, "x0 @ x1.t()",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1], false, true); }},
    {"matmul_shared_lhs", {{{3, 6}}, {{2, 6, 4}}}, "x0 @ x1",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1]); }},
    {"matmul_batched", {{{2, 3, 4, 5}}, {{2, 3, 5, 2}}}, "x0 @ x1",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1]); }},
    {"matmul_batched_transposes", {{{2, 3, 5, 4}}, {{2, 3, 2, 5}}}, "x0.transpose(-1, -2) @ x1.transpose(-1, -2)",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1], true, true); }},
    {"matmul_batch_broadcast", {{{2, 1, 4, 5}}, {{1, 3, 5, 2}}}, "x0 @ x1",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1]); }},
    {"matmul_linear_transposed_input", {{{2, 6, 3}}, {{4, 6}}}, "x0.transpose(-1, -2) @ x1.t()",
     [](const CaseInputs& x) { return ag::matmul(x[0], x[1], true, true); }},
});

}  // namespace qforge::testing
