#include "tests/autograd/op_cases.h"

#include <cmath>
#include <random>

namespace qforge::testing {

std::vector<OpCase>& op_case_registry() {
  static std::vector<OpCase> cases;
  return cases;
}

OpCaseRegistrar::OpCaseRegistrar(std::vector<OpCase> cases) {
  for (auto& c : cases) op_case_registry().push_back(std::move(c));
}

CaseInputs make_inputs(const OpCase& op_case, uint64_t seed) {
  CaseInputs inputs;
  std::mt19937_64 generator(seed);
  for (const InputSpec& spec : op_case.inputs) {
    autograd::Tensor t(spec.shape);
    std::vector<int64_t> ids;
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> positive(0.5f, 2.0f);
    for (int64_t i = 0; i < t.numel(); ++i) {
      float v = 0.0f;
      switch (spec.kind) {
        case InputKind::kNormal:
        case InputKind::kConstant: v = normal(generator); break;
        case InputKind::kPositive: v = positive(generator); break;
        case InputKind::kAwayFromZero:
          v = normal(generator);
          v = v >= 0 ? v + 0.05f : v - 0.05f;
          break;
        case InputKind::kIndex:
          ids.push_back(static_cast<int64_t>(generator() % static_cast<uint64_t>(spec.index_high)));
          v = static_cast<float>(ids.back());
          break;
      }
      t.data()[i] = v;
    }
    const bool differentiable = spec.kind != InputKind::kIndex && spec.kind != InputKind::kConstant;
    inputs.values.emplace_back(t, differentiable);
    inputs.indices.push_back(spec.kind == InputKind::kIndex ? IndexTensor(spec.shape, ids) : IndexTensor());
  }
  return inputs;
}

}  // namespace qforge::testing
