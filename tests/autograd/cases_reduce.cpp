// Op cases: sum and mean over all elements, one axis, several axes, negative axes, keepdim.
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

QFORGE_OP_CASES({
    {"sum_all", {{{3, 4}}}, "x0.sum()", [](const CaseInputs& x) { return ag::sum(x[0]); }},
    {"sum_all_4d", {{{2, 3, 2, 4}}}, "x0.sum()", [](const CaseInputs& x) { return ag::sum(x[0]); }},
    {"sum_axis0", {{{3, 4}}}, "x0.sum(0)", [](const CaseInputs& x) { return ag::sum(x[0], {0}); }},
    {"sum_axis_last_keepdim", {{{2, 3, 5}}}, "x0.sum(2, keepdim=True)",
     [](const CaseInputs& x) { return ag::sum(x[0], {2}, true); }},
    {"sum_negative_axis", {{{2, 3, 5}}}, "x0.sum(-2)", [](const CaseInputs& x) { return ag::sum(x[0], {-2}); }},
    {"sum_two_axes", {{{2, 3, 4}}}, "x0.sum((0, 2))", [](const CaseInputs& x) { return ag::sum(x[0], {0, 2}); }},
    {"sum_two_axes_keepdim_neg", {{{2, 3, 4}}}, "x0.sum((-1, 0), keepdim=True)",
     [](const CaseInputs& x) { return ag::sum(x[0], {-1, 0}, true); }},
    {"sum_4d_middle", {{{2, 3, 4, 5}}}, "x0.sum((1, 2))", [](const CaseInputs& x) { return ag::sum(x[0], {1, 2}); }},
    {"sum_4d_all_axes_keepdim", {{{2, 3, 2, 3}}}, "x0.sum((0, 1, 2, 3), keepdim=True)",
     [](const CaseInputs& x) { return ag::sum(x[0], {0, 1, 2, 3}, true); }},
    {"sum_4d_outer_inner", {{{2, 3, 4, 5}}}, "x0.sum((0, 3), keepdim=True)",
     [](const CaseInputs& x) { return ag::sum(x[0], {0, 3}, true); }},
    {"sum_1d", {{{7}}}, "x0.sum(-1)", [](const CaseInputs& x) { return ag::sum(x[0], {-1}); }},
    {"mean_all", {{{3, 4}}}, "x0.mean()", [](const CaseInputs& x) { return ag::mean(x[0]); }},
    {"mean_all_4d", {{{2, 3, 2, 4}}}, "x0.mean()", [](const CaseInputs& x) { return ag::mean(x[0]); }},
    {"mean_axis1", {{{3, 4}}}, "x0.mean(1)", [](const CaseInputs& x) { return ag::mean(x[0], {1}); }},
    {"mean_axis_keepdim", {{{2, 3, 5}}}, "x0.mean(1, keepdim=True)",
     [](const CaseInputs& x) { return ag::mean(x[0], {1}, true); }},
    {"mean_negative_axis", {{{2, 3, 5}}}, "x0.mean(-1)", [](const CaseInputs& x) { return ag::mean(x[0], {-1}); }},
    {"mean_two_axes", {{{2, 3, 4}}}, "x0.mean((0, 1))", [](const CaseInputs& x) { return ag::mean(x[0], {0, 1}); }},
    {"mean_4d_neg_keepdim", {{{2, 3, 4, 5}}}, "x0.mean((-1, -3), keepdim=True)",
     [](const CaseInputs& x) { return ag::mean(x[0], {-1, -3}, true); }},
    {"mean_4d_last_two", {{{2, 3, 4, 5}}}, "x0.mean((2, 3))", [](const CaseInputs& x) { return ag::mean(x[0], {2, 3}); }},
});

}  // namespace qforge::testing
