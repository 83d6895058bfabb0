#pragma once
// The table every op test runs from: each case names an op call in qforge and the same call in
// PyTorch, with the inputs it takes. test_gradcheck.cpp checks each case's gradients against
// central finite differences; test_torch_parity.cpp checks values and gradients against PyTorch.
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace qforge::testing {

using autograd::IndexTensor;
using autograd::Shape;
using autograd::Variable;

enum class InputKind {
  kNormal,      // N(0, 1)
  kPositive,    // U(0.5, 2): for log, sqrt, rsqrt, pow, div denominators
  kAwayFromZero,// N(0, 1) pushed at least 0.05 from 0: for relu, whose kink breaks finite differences
  kIndex,       // integers in [0, index_high): targets, ids, gather indices (no gradient)
  kConstant,    // N(0, 1) without gradient (e.g. regression targets)
};

struct InputSpec {
  Shape shape;
  InputKind kind = InputKind::kNormal;
  int64_t index_high = 0;
};

struct CaseInputs {
  std::vector<Variable> values;        // one per input; index inputs hold their values as floats
  std::vector<IndexTensor> indices;    // one per input; defined for index inputs only
  const Variable& operator[](size_t i) const { return values[i]; }
  const IndexTensor& index(size_t i) const { return indices[i]; }
};

struct OpCase {
  std::string name;
  std::vector<InputSpec> inputs;
  // Python expression over x0, x1, ... (float64 tensors; index inputs are int64 tensors), with
  // torch, F (torch.nn.functional) and the reference helpers of tests/torch_reference.py in scope.
  std::string torch;
  std::function<Variable(const CaseInputs&)> run;
  double fd_step = 5e-3;
  double fd_tolerance = 2e-3;      // |numeric - analytic| <= tol * (1 + |numeric|); worst seen 3.3e-4
  double torch_tolerance = 2e-5;   // max |ours - torch| / (1 + |torch|)
};

// All cases, registered by the op-group files through QFORGE_OP_CASES.
std::vector<OpCase>& op_case_registry();
CaseInputs make_inputs(const OpCase& op_case, uint64_t seed);

struct OpCaseRegistrar {
  explicit OpCaseRegistrar(std::vector<OpCase> cases);
};

#define QFORGE_OP_CASES_CONCAT_(a, b) a##b
#define QFORGE_OP_CASES_NAME_(line) QFORGE_OP_CASES_CONCAT_(op_cases_, line)
// Usage: QFORGE_OP_CASES({ OpCase{...}, OpCase{...} });
#define QFORGE_OP_CASES(...) \
  static const ::qforge::testing::OpCaseRegistrar QFORGE_OP_CASES_NAME_(__LINE__)(std::vector<::qforge::testing::OpCase> __VA_ARGS__)

}  // namespace qforge::testing
