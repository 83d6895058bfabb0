// Op cases: elementwise functions (exp, log, sqrt, rsqrt, tanh, sigmoid, relu, gelu, silu).
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

QFORGE_OP_CASES({
    {"exp", {{{3, 4}}}, "torch.exp(x0)", [](const CaseInputs& x) { return ag::exp(x[0]); }},
    {"exp_scalar", {{Shape{}}}, "torch.exp(x0)", [](const CaseInputs& x) { return ag::exp(x[0]); }},
    {"exp_wide_range", {{{64}}}, "torch.exp(x0 * 8)", [](const CaseInputs& x) { return ag::exp(x[0] * 8.0f); },
     1e-3},
    {"log", {{{3, 4}, InputKind::kPositive}}, "torch.log(x0)", [](const CaseInputs& x) { return ag::log(x[0]); }},
    {"sqrt", {{{2, 3, 4}, InputKind::kPositive}}, "torch.sqrt(x0)",
     [](const CaseInputs& x) { return ag::sqrt(x[0]); }},
    {"rsqrt", {{{5, 3}, InputKind::kPositive}}, "torch.rsqrt(x0)",
     [](const CaseInputs& x) { return ag::rsqrt(x[0]); }},
    {"tanh", {{{4, 5}}}, "torch.tanh(x0)", [](const CaseInputs& x) { return ag::tanh(x[0]); }},
    // Scaled inputs reach both branches of the tanh kernel and its saturated tails.
    {"tanh_wide_range", {{{2, 50}}}, "torch.tanh(x0 * 4)", [](const CaseInputs& x) { return ag::tanh(x[0] * 4.0f); }},
    {"sigmoid", {{{4, 5}}}, "torch.sigmoid(x0)", [](const CaseInputs& x) { return ag::sigmoid(x[0]); }},
    {"sigmoid_wide_range", {{{2, 50}}}, "torch.sigmoid(x0 * 10)",
     [](const CaseInputs& x) { return ag::sigmoid(x[0] * 10.0f); }, 1e-3},
    {"relu", {{{3, 7}, InputKind::kAwayFromZero}}, "torch.relu(x0)",
     [](const CaseInputs& x) { return ag::relu(x[0]); }},
    {"gelu_erf", {{{3, 8}}}, "F.gelu(x0)", [](const CaseInputs& x) { return ag::gelu(x[0]); }},
    {"gelu_erf_wide_range", {{{2, 40}}}, "F.gelu(x0 * 4)",
     [](const CaseInputs& x) { return ag::gelu(x[0] * 4.0f, ag::GeluApproximation::kErf); }},
    {"gelu_tanh", {{{3, 8}}}, "F.gelu(x0, approximate='tanh')",
     [](const CaseInputs& x) { return ag::gelu(x[0], ag::GeluApproximation::kTanh); }},
    {"gelu_tanh_wide_range", {{{2, 40}}}, "F.gelu(x0 * 4, approximate='tanh')",
     [](const CaseInputs& x) { return ag::gelu(x[0] * 4.0f, ag::GeluApproximation::kTanh); }},
    {"silu", {{{2, 3, 5}}}, "F.silu(x0)", [](const CaseInputs& x) { return ag::silu(x[0]); }},
    {"silu_wide_range", {{{2, 40}}}, "F.silu(x0 * 6)", [](const CaseInputs& x) { return ag::silu(x[0] * 6.0f); }},
    // The benchmarked pattern: a chain of activations mixed with arithmetic.
    {"activation_chain", {{{4, 6}}, {{4, 6}}}, "torch.sigmoid(x0) * torch.tanh(x1) + F.silu(x0 * x1)",
     [](const CaseInputs& x) { return ag::sigmoid(x[0]) * ag::tanh(x[1]) + ag::silu(x[0] * x[1]); }},
});

}  // namespace qforge::testing
