#pragma once
// The budget axis of `qforge study` (StudyConfig.budget_split; ParetoQ, Liu et al. 2025, §3.1, and
// docs/budget_split.md): one training budget of T steps split between full-precision training and
// QAT. For each share f a float run of round(f T) steps (the base config with its schedule over those
// steps), then QAT for the T - round(f T) steps left, from that run; every cell is compared with the
// float model trained for all T steps. The float runs are cells of their own (run folders under the
// study's output directory), so an interrupted study resumes them.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "trainers/run_config.h"

namespace qforge::trainers {

struct BudgetSplitResult {
  double fp_fraction = 1.0;  // f; 1 is the float model trained for the whole budget
  int64_t fp_steps = 0, qat_steps = 0;
  std::string scheme, method;  // empty for the float rows
  double fp_loss = 0.0;        // validation loss of the float run after its fp_steps
  double loss = 0.0;           // after QAT (the float rows: fp_loss)
  double seconds = 0.0;        // wall time of the QAT part (float rows: of the float run)
  std::string run_dir;
};

// The QAT run config of (method, scheme) started from `float_run`: the study's own QAT cell config
// (trainers/study/study.cpp), so a split cell differs from a grid cell only in its steps.
using QatCellConfig = std::function<config::RunConfig(const std::string& method, const std::string& scheme,
                                                      const std::filesystem::path& float_run)>;

// The checked axis (budget 0 when study.budget_split has no fractions): run_study calls it before the
// float run, so a wrong field fails in seconds, not after training. Throws std::invalid_argument naming
// the field when a fraction is outside (0, 1), the base or QAT trainer counts epochs instead of steps,
// a scheme does not parse, or a method is not a QAT method. Defaults: the study's last weight scheme,
// its QAT methods.
struct BudgetSplitPlan {
  int64_t budget = 0;  // T
  std::vector<std::string> schemes, methods;
};
BudgetSplitPlan plan_budget_split(const config::StudyConfig& study, const std::vector<std::string>& qat_methods);

// Runs the axis (the plan above); empty when study.budget_split has no fractions.
std::vector<BudgetSplitResult> run_budget_split(const config::StudyConfig& study,
                                                const std::filesystem::path& output_dir,
                                                const std::vector<std::string>& qat_methods,
                                                const QatCellConfig& qat_cell_config);

// The report's section ("## Budget split ..." with one table per scheme) and budget_split.csv.
std::string budget_split_markdown(const std::vector<BudgetSplitResult>& results);
std::string budget_split_csv(const std::vector<BudgetSplitResult>& results);

}  // namespace qforge::trainers
