#include "trainers/study/budget_split.h"

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

#include "trainers/quantization_setup.h"
#include "trainers/study/report_text.h"
#include "trainers/study/study_report.h"
#include "trainers/trainer.h"

namespace qforge::trainers {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "split-fp0.9" for f = 0.9: the float run's folder and the prefix of its QAT cells' folders.
std::string split_name(double fraction) { return "split-fp" + printf_number("%g", fraction); }

int64_t total_budget(const config::StudyConfig& study) {
  const int64_t base = study.base().trainer().steps(), qat = study.qat_trainer().steps();
  if (base <= 0 || qat <= 0) {
    throw std::invalid_argument("study.budget_split: base.trainer.steps and qat_trainer.steps must both be set (got " +
                                std::to_string(base) + " and " + std::to_string(qat) +
                                "): the budget T is their sum, counted in steps, not epochs");
  }
  return base + qat;
}

void check_fractions(const config::BudgetSplitConfig& split, int64_t budget) {
  for (int i = 0; i < split.fp_fractions_size(); ++i) {
    const double f = split.fp_fractions(i);
    const int64_t fp_steps = std::llround(f * static_cast<double>(budget));
    if (!(f > 0.0 && f < 1.0) || fp_steps <= 0 || fp_steps >= budget) {
      throw std::invalid_argument("study.budget_split.fp_fractions[" + std::to_string(i) + "] = " +
                                  printf_number("%g", f) + ": a share of the " + std::to_string(budget) +
                                  "-step budget in (0, 1) that leaves at least one step on each side");
    }
  }
}

// The float run of `steps` steps: the base config with its own schedule over those steps.
RunResult float_run(const config::StudyConfig& study, int64_t steps, const std::filesystem::path& dir) {
  config::RunConfig run = study.base();
  run.mutable_trainer()->set_steps(steps);
  run.mutable_trainer()->clear_run_dir();
  return train(run, {dir, false, 0});
}

}  // namespace

BudgetSplitPlan plan_budget_split(const config::StudyConfig& study, const std::vector<std::string>& qat_methods) {
  const config::BudgetSplitConfig& split = study.budget_split();
  BudgetSplitPlan plan;
  if (split.fp_fractions_size() == 0) return plan;
  plan.budget = total_budget(study);
  check_fractions(split, plan.budget);
  plan.schemes.assign(split.weight_schemes().begin(), split.weight_schemes().end());
  if (plan.schemes.empty() && study.weight_schemes_size() > 0)
    plan.schemes = {study.weight_schemes(study.weight_schemes_size() - 1)};
  for (size_t i = 0; i < plan.schemes.size(); ++i) {
    config::QuantizerConfig scheme;
    scheme.set_scheme(plan.schemes[i]);
    quantizer_spec(scheme, "study.budget_split.weight_schemes[" + std::to_string(i) + "]");
  }
  plan.methods.assign(split.methods().begin(), split.methods().end());
  if (plan.methods.empty()) plan.methods = qat_methods;
  for (const std::string& m : plan.methods) {
    if (m != "qat" && m.rfind("qat:", 0) != 0)
      throw std::invalid_argument("study.budget_split.methods: '" + m + "' is not a QAT method (qat or qat:<estimator>)");
  }
  if (plan.methods.empty()) throw std::invalid_argument("study.budget_split: no QAT method (set budget_split.methods)");
  return plan;
}

std::vector<BudgetSplitResult> run_budget_split(const config::StudyConfig& study,
                                                const std::filesystem::path& output_dir,
                                                const std::vector<std::string>& qat_methods,
                                                const QatCellConfig& qat_cell_config) {
  const BudgetSplitPlan plan = plan_budget_split(study, qat_methods);
  if (plan.budget == 0) return {};
  const int64_t budget = plan.budget;
  const std::vector<std::string>& schemes = plan.schemes;
  const std::vector<std::string>& methods = plan.methods;

  std::vector<BudgetSplitResult> results;
  auto start = std::chrono::steady_clock::now();
  const RunResult full = float_run(study, budget, output_dir / split_name(1.0));
  results.push_back({1.0, budget, 0, "", "fp32", full.val_loss, full.val_loss, seconds_since(start),
                     (output_dir / split_name(1.0)).string()});
  std::printf("study: budget split fp32 %lld steps val_loss=%.4f\n", static_cast<long long>(budget), full.val_loss);
  for (const float f : study.budget_split().fp_fractions()) {
    const int64_t fp_steps = std::llround(f * static_cast<double>(budget));
    const std::filesystem::path fp_dir = output_dir / split_name(f);
    start = std::chrono::steady_clock::now();
    const RunResult fp = float_run(study, fp_steps, fp_dir);
    results.push_back({f, fp_steps, 0, "", "fp32", fp.val_loss, fp.val_loss, seconds_since(start), fp_dir.string()});
    for (const std::string& scheme : schemes) {
      for (const std::string& method : methods) {
        config::RunConfig run = qat_cell_config(method, scheme, fp_dir);
        run.mutable_trainer()->set_steps(budget - fp_steps);
        const std::filesystem::path dir = output_dir / folder_safe(split_name(f) + "-" + method + "-" + scheme);
        start = std::chrono::steady_clock::now();
        const RunResult q = train(run, {dir, false, 0});
        results.push_back({f, fp_steps, budget - fp_steps, scheme, method, fp.val_loss, q.val_loss,
                           seconds_since(start), dir.string()});
        std::printf("study: budget split fp=%g %-10s %-16s val_loss=%.4f (float run %.4f)\n", f, method.c_str(),
                    scheme.c_str(), q.val_loss, fp.val_loss);
        std::fflush(stdout);
      }
    }
  }
  return results;
}

std::string budget_split_markdown(const std::vector<BudgetSplitResult>& results) {
  if (results.empty()) return "";
  const BudgetSplitResult& full = results.front();  // run_budget_split puts the whole-budget float run first
  std::ostringstream md;
  md << "## Budget split (ParetoQ)\n\nOne budget of " << full.fp_steps
     << " steps: a float run of the first share, QAT for the rest. Δ is over the float model trained for all "
     << full.fp_steps << " steps (" << printf_number("%.4f", full.loss) << ").\n\n";
  std::map<std::pair<std::string, std::string>, std::vector<const BudgetSplitResult*>> tables;
  for (const BudgetSplitResult& r : results)
    if (!r.method.empty() && r.method != "fp32") tables[{r.scheme, r.method}].push_back(&r);
  for (const auto& [key, rows] : tables) {
    md << "### " << key.second << " " << key.first << "\n\n| FP share | FP steps | QAT steps | float run | Δ float run | QAT | Δ QAT |\n"
       << "|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const BudgetSplitResult* r : rows) {
      md << "| " << printf_number("%g", r->fp_fraction) << " | " << r->fp_steps << " | " << r->qat_steps << " | "
         << printf_number("%.4f", r->fp_loss) << " | " << printf_number("%+.4f", r->fp_loss - full.loss) << " | "
         << printf_number("%.4f", r->loss) << " | " << printf_number("%+.4f", r->loss - full.loss) << " |\n";
    }
    md << '\n';
  }
  return md.str();
}

std::string budget_split_csv(const std::vector<BudgetSplitResult>& results) {
  std::string csv = "fp_fraction,fp_steps,qat_steps,scheme,method,fp_loss,loss,seconds,run_dir\n";
  for (const BudgetSplitResult& r : results) {
    csv += exact_number(r.fp_fraction) + ',' + std::to_string(r.fp_steps) + ',' + std::to_string(r.qat_steps) +
           ',' + csv_field(r.scheme) + ',' + csv_field(r.method) + ',' + exact_number(r.fp_loss) + ',' +
           exact_number(r.loss) + ',' + exact_number(r.seconds) + ',' + csv_field(r.run_dir) + '\n';
  }
  return csv;
}

}  // namespace qforge::trainers
