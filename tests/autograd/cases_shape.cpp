// Op cases: max along an axis, reshape, transpose, permute, slice, concat, gather, embedding.
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

namespace {
InputSpec index_input(Shape shape, int64_t high) { return {shape, InputKind::kIndex, high}; }
}  // namespace

// max (normal inputs have no ties, so the first-maximum rule and torch agree). The wide case
// has 120 columns: a smaller finite-difference step keeps near-ties from swapping the maximum.
QFORGE_OP_CASES({
    {"max_last", {{{3, 5}}}, "torch.max(x0, 1).values", [](const CaseInputs& x) { return ag::max(x[0], 1); }},
    {"max_first_keepdim", {{{4, 3}}}, "torch.max(x0, 0, keepdim=True).values",
     [](const CaseInputs& x) { return ag::max(x[0], 0, true); }},
    {"max_negative_middle", {{{2, 5, 3}}}, "torch.max(x0, -2).values",
     [](const CaseInputs& x) { return ag::max(x[0], -2); }},
    {"max_4d_keepdim", {{{2, 3, 4, 5}}}, "torch.max(x0, 2, keepdim=True).values",
     [](const CaseInputs& x) { return ag::max(x[0], 2, true); }},
    {"max_1d", {{{6}}}, "torch.max(x0, -1).values", [](const CaseInputs& x) { return ag::max(x[0], -1); }},
    {"max_wide_inner", {{{3, 4, 40}}}, "torch.max(x0, 1).values", [](const CaseInputs& x) { return ag::max(x[0], 1); },
     1e-3},
});

// reshape, transpose, permute
QFORGE_OP_CASES({
    {"reshape_flat", {{{2, 3, 4}}}, "x0.reshape(24)", [](const CaseInputs& x) { return ag::reshape(x[0], {24}); }},
    {"reshape_infer", {{{2, 3, 4}}}, "x0.reshape(-1, 4, 2)",
     [](const CaseInputs& x) { return ag::reshape(x[0], {-1, 4, 2}); }},
    {"reshape_to_4d", {{{6, 4}}}, "x0.reshape(2, 3, -1, 2)",
     [](const CaseInputs& x) { return ag::reshape(x[0], {2, 3, -1, 2}); }},
    {"reshape_scalar", {{{1, 1}}}, "x0.reshape(())", [](const CaseInputs& x) { return ag::reshape(x[0], {}); }},
    {"transpose_2d", {{{3, 5}}}, "x0.transpose(0, 1)", [](const CaseInputs& x) { return ag::transpose(x[0], 0, 1); }},
    {"transpose_last_two", {{{2, 3, 4, 5}}}, "x0.transpose(-1, -2)",
     [](const CaseInputs& x) { return ag::transpose(x[0], -1, -2); }},
    {"transpose_heads", {{{2, 5, 3, 4}}}, "x0.transpose(1, 2)",
     [](const CaseInputs& x) { return ag::transpose(x[0], 1, 2); }},
    {"transpose_outer_inner", {{{3, 2, 4}}}, "x0.transpose(0, 2)",
     [](const CaseInputs& x) { return ag::transpose(x[0], 0, 2); }},
    {"transpose_same_axis", {{{3, 4}}}, "x0.transpose(1, -1)",
     [](const CaseInputs& x) { return ag::transpose(x[0], 1, -1); }},
    {"transpose_size_one", {{{3, 1, 4}}}, "x0.transpose(0, 1)",
     [](const CaseInputs& x) { return ag::transpose(x[0], 0, 1); }},
    {"transpose_large_tiles", {{{70, 45}}}, "x0.t()", [](const CaseInputs& x) { return ag::transpose(x[0], 0, 1); }},
    {"permute_heads_split", {{{2, 4, 3, 5}}}, "x0.permute(0, 2, 1, 3)",
     [](const CaseInputs& x) { return ag::permute(x[0], {0, 2, 1, 3}); }},
    {"permute_rotate", {{{2, 3, 4, 5}}}, "x0.permute(3, 0, 1, 2)",
     [](const CaseInputs& x) { return ag::permute(x[0], {3, 0, 1, 2}); }},
    {"permute_reverse", {{{2, 3, 4, 5}}}, "x0.permute(3, 2, 1, 0)",
     [](const CaseInputs& x) { return ag::permute(x[0], {3, 2, 1, 0}); }},
    {"permute_negative", {{{2, 3, 4}}}, "x0.permute(-1, 0, 1)",
     [](const CaseInputs& x) { return ag::permute(x[0], {-1, 0, 1}); }},
    {"permute_k_layout", {{{2, 3, 4, 5}}}, "x0.permute(0, 2, 3, 1)",
     [](const CaseInputs& x) { return ag::permute(x[0], {0, 2, 3, 1}); }},
    {"permute_identity", {{{2, 3}}}, "x0.permute(0, 1)", [](const CaseInputs& x) { return ag::permute(x[0], {0, 1}); }},
});

// slice and concat
QFORGE_OP_CASES({
    {"slice_middle", {{{6, 4}}}, "x0[1:4]", [](const CaseInputs& x) { return ag::slice(x[0], 0, 1, 4); }},
    {"slice_negative_bounds", {{{3, 7}}}, "x0[:, -5:-1]", [](const CaseInputs& x) { return ag::slice(x[0], 1, -5, -1); }},
    {"slice_negative_axis", {{{2, 6, 3}}}, "x0[:, 2:, :]",
     [](const CaseInputs& x) { return ag::slice(x[0], -2, 2, 100); }},
    {"slice_clamped", {{{5, 3}}}, "x0[-100:3]", [](const CaseInputs& x) { return ag::slice(x[0], 0, -100, 3); }},
    {"slice_empty", {{{3, 4}}}, "x0[:, 3:1]", [](const CaseInputs& x) { return ag::slice(x[0], 1, 3, 1); }},
    {"slice_4d_last", {{{2, 3, 2, 8}}}, "x0[..., 4:]", [](const CaseInputs& x) { return ag::slice(x[0], 3, 4, 8); }},
    {"concat_rows", {{{2, 3}}, {{4, 3}}}, "torch.cat([x0, x1], 0)",
     [](const CaseInputs& x) { return ag::concat({x[0], x[1]}, 0); }},
    {"concat_last_three", {{{2, 3, 1}}, {{2, 3, 4}}, {{2, 3, 2}}}, "torch.cat([x0, x1, x2], -1)",
     [](const CaseInputs& x) { return ag::concat({x[0], x[1], x[2]}, -1); }},
    {"concat_middle_4d", {{{2, 1, 3, 2}}, {{2, 3, 3, 2}}}, "torch.cat([x0, x1], 1)",
     [](const CaseInputs& x) { return ag::concat({x[0], x[1]}, 1); }},
    {"concat_with_constant", {{{3, 2}}, {{3, 2}, InputKind::kConstant}}, "torch.cat([x0, x1], 1)",
     [](const CaseInputs& x) { return ag::concat({x[0], x[1]}, 1); }},
    {"concat_same_twice", {{{2, 3}}}, "torch.cat([x0, x0], 0)",
     [](const CaseInputs& x) { return ag::concat({x[0], x[0]}, 0); }},
    {"concat_single", {{{2, 3}}}, "torch.cat([x0], 1)", [](const CaseInputs& x) { return ag::concat({x[0]}, 1); }},
});

// gather and embedding (repeated indices exercise the scatter-add)
QFORGE_OP_CASES({
    {"gather_last", {{{3, 5}}, index_input({3, 4}, 5)}, "torch.gather(x0, 1, x1)",
     [](const CaseInputs& x) { return ag::gather(x[0], 1, x.index(1)); }},
    {"gather_first", {{{4, 3}}, index_input({6, 3}, 4)}, "torch.gather(x0, 0, x1)",
     [](const CaseInputs& x) { return ag::gather(x[0], 0, x.index(1)); }},
    {"gather_smaller_index", {{{3, 4, 5}}, index_input({2, 3, 2}, 4)}, "torch.gather(x0, -2, x1)",
     [](const CaseInputs& x) { return ag::gather(x[0], -2, x.index(1)); }},
    {"gather_4d", {{{2, 3, 4, 5}}, index_input({2, 3, 4, 1}, 5)}, "torch.gather(x0, 3, x1)",
     [](const CaseInputs& x) { return ag::gather(x[0], 3, x.index(1)); }},
    {"gather_1d_repeats", {{{4}}, index_input({9}, 4)}, "torch.gather(x0, 0, x1)",
     [](const CaseInputs& x) { return ag::gather(x[0], 0, x.index(1)); }},
    {"embedding_1d", {{{10, 4}}, index_input({6}, 10)}, "F.embedding(x1, x0)",
     [](const CaseInputs& x) { return ag::embedding(x[0], x.index(1)); }},
    {"embedding_2d_repeats", {{{5, 3}}, index_input({3, 4}, 5)}, "F.embedding(x1, x0)",
     [](const CaseInputs& x) { return ag::embedding(x[0], x.index(1)); }},
    {"embedding_3d", {{{7, 2}}, index_input({2, 2, 3}, 7)}, "F.embedding(x1, x0)",
     [](const CaseInputs& x) { return ag::embedding(x[0], x.index(1)); }},
    {"embedding_scalar_id", {{{4, 3}}, index_input(Shape{}, 4)}, "F.embedding(x1, x0)",
     [](const CaseInputs& x) { return ag::embedding(x[0], x.index(1)); }},
});

}  // namespace qforge::testing
