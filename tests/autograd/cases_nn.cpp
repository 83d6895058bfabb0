// Op cases: normalisation layers, rotary embedding and fused causal attention. Dropout has no
// PyTorch counterpart with the same random stream; it is tested in test_dropout.cpp.
#include "tests/autograd/op_cases.h"

namespace qforge::testing {
namespace ag = qforge::autograd;

QFORGE_OP_CASES({
    {"rms_norm_2d", {{{4, 8}}, {{8}}}, "rms_norm(x0, x1, 1e-6)",
     [](const CaseInputs& x) { return ag::rms_norm(x[0], x[1]); }},
    {"rms_norm_3d_eps", {{{2, 3, 16}}, {{16}}}, "rms_norm(x0, x1, 0.1)",
     [](const CaseInputs& x) { return ag::rms_norm(x[0], x[1], 0.1f); }},
    {"rms_norm_1d", {{{5}}, {{5}}}, "rms_norm(x0, x1, 1e-6)",
     [](const CaseInputs& x) { return ag::rms_norm(x[0], x[1]); }},
    // 80 rows: more rows than dweight chunks, so several rows share a chunk buffer.
    {"rms_norm_many_rows", {{{80, 3}}, {{3}}}, "rms_norm(x0, x1, 1e-6)",
     [](const CaseInputs& x) { return ag::rms_norm(x[0], x[1]); }},
    {"rms_norm_const_weight", {{{3, 6}}, {{6}, InputKind::kConstant}}, "rms_norm(x0, x1, 1e-6)",
     [](const CaseInputs& x) { return ag::rms_norm(x[0], x[1]); }},
    {"layer_norm_2d", {{{4, 8}}, {{8}}, {{8}}}, "F.layer_norm(x0, (8,), x1, x2, 1e-5)",
     [](const CaseInputs& x) { return ag::layer_norm(x[0], x[1], x[2]); }},
    {"layer_norm_3d_eps", {{{2, 3, 16}}, {{16}}, {{16}}}, "F.layer_norm(x0, (16,), x1, x2, 0.01)",
     [](const CaseInputs& x) { return ag::layer_norm(x[0], x[1], x[2], 0.01f); }},
    {"layer_norm_many_rows", {{{70, 5}}, {{5}}, {{5}}}, "F.layer_norm(x0, (5,), x1, x2, 1e-5)",
     [](const CaseInputs& x) { return ag::layer_norm(x[0], x[1], x[2]); }},
    {"layer_norm_const_affine", {{{3, 7}}, {{7}, InputKind::kConstant}, {{7}, InputKind::kConstant}},
     "F.layer_norm(x0, (7,), x1, x2, 1e-5)", [](const CaseInputs& x) { return ag::layer_norm(x[0], x[1], x[2]); }},
    {"rope_basic", {{{2, 3, 5, 8}}}, "rope(x0)", [](const CaseInputs& x) { return ag::rope(x[0]); }},
    {"rope_offset_theta", {{{1, 2, 7, 6}}}, "rope(x0, 500000.0, 1000)",
     [](const CaseInputs& x) { return ag::rope(x[0], 500000.0f, 1000); }},
    {"rope_seq_dim_only", {{{4, 4}}}, "rope(x0, 10000.0, 3)",
     [](const CaseInputs& x) { return ag::rope(x[0], 10000.0f, 3); }},
    {"attention_mha", {{{2, 2, 5, 4}}, {{2, 2, 5, 4}}, {{2, 2, 5, 4}}}, "causal_attention(x0, x1, x2)",
     [](const CaseInputs& x) { return ag::causal_attention(x[0], x[1], x[2]); }},
    {"attention_gqa", {{{1, 4, 7, 4}}, {{1, 2, 7, 4}}, {{1, 2, 7, 4}}}, "causal_attention(x0, x1, x2)",
     [](const CaseInputs& x) { return ag::causal_attention(x[0], x[1], x[2]); }},
    {"attention_mqa_scale", {{{2, 3, 6, 5}}, {{2, 1, 6, 5}}, {{2, 1, 6, 5}}}, "causal_attention(x0, x1, x2, 0.3)",
     [](const CaseInputs& x) { return ag::causal_attention(x[0], x[1], x[2], 0.3f); }},
    {"attention_seq1", {{{1, 2, 1, 4}}, {{1, 2, 1, 4}}, {{1, 2, 1, 4}}}, "causal_attention(x0, x1, x2)",
     [](const CaseInputs& x) { return ag::causal_attention(x[0], x[1], x[2]); }},
    // Odd length above the 32-row block: three query blocks, the last one partial.
    {"attention_gqa_blocks", {{{1, 4, 67, 3}}, {{1, 2, 67, 3}}, {{1, 2, 67, 3}}}, "causal_attention(x0, x1, x2)",
     [](const CaseInputs& x) { return ag::causal_attention(x[0], x[1], x[2]); }},
    {"attention_const_kv", {{{1, 2, 9, 4}}, {{1, 2, 9, 4}, InputKind::kConstant}, {{1, 2, 9, 4}}},
     "causal_attention(x0, x1, x2, 0.5)",
     [](const CaseInputs& x) { return ag::causal_attention(x[0], x[1], x[2], 0.5f); }},
    // PyTorch's own RNG cannot reproduce the mask, so the reference rebuilds qforge's documented
    // counter-based mask in Python and applies it with PyTorch's inverted-dropout scaling.
    {"dropout_p03", {{{6, 7}}}, "x0 * dropout_mask((6, 7), 0.3, 1234) / (1 - 0.3)",
     [](const CaseInputs& x) { return ag::dropout(x[0], 0.3f, 1234); }},
    {"dropout_p07_3d", {{{2, 5, 9}}}, "x0 * dropout_mask((2, 5, 9), 0.7, 99) / (1 - 0.7)",
     [](const CaseInputs& x) { return ag::dropout(x[0], 0.7f, 99); }},
});

}  // namespace qforge::testing
