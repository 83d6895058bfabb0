#include "trainers/study/study.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>
#include <stdexcept>

#include <google/protobuf/text_format.h>

#include "fakequant/quantizer_spec.h"
#include "io/atomic_file.h"
#include "trainers/post_training_quantization.h"
#include "trainers/quantization_setup.h"
#include "trainers/study/budget_split.h"
#include "trainers/study/report_text.h"
#include "trainers/study/study_method.h"
#include "trainers/trainer.h"

namespace qforge::trainers {
namespace {

namespace fs = std::filesystem;
using Seed = std::optional<uint64_t>;

config::QuantizerConfig config_of(const std::string& scheme) {
  config::QuantizerConfig config;
  config.set_scheme(scheme);
  return config;
}

template <class F>
double timed(F&& body) {
  const auto start = std::chrono::steady_clock::now();
  body();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string scheme_observer(const std::string& scheme) {
  return fakequant::observer_name(fakequant::parse_scheme(scheme).observer.kind);
}

void print_cell(const StudyResult& r) {
  std::printf("study: %-14s %-18s %-10s bits=%5.2f val_loss=%.4f", r.method.c_str(), r.scheme.c_str(),
              r.observer.c_str(), r.bits_per_weight, r.loss);
  if (r.accuracy) std::printf(" val_accuracy=%.4f", *r.accuracy);
  if (r.seed) std::printf(" seed=%llu", static_cast<unsigned long long>(*r.seed));
  std::printf(" (%.1f s)\n", r.seconds);
  std::fflush(stdout);
}

// Runs the grid's cells and collects their rows. Every cell is a run folder: training cells resume,
// post-training cells are recomputed (seconds each), once per study even when a QAT start reuses one.
class StudyRunner {
 public:
  StudyRunner(const config::StudyConfig& study, const fs::path& output_dir, const GgufStudyTools& gguf);
  void run_baselines();
  void run_method(const StudyMethod& method, const std::string& scheme);
  // A post-training method on the FP32 control of each seed (StudyConfig.control_methods).
  void run_on_control(const StudyMethod& method, const std::string& scheme);
  // The run a QAT cell trains: `qat` ("qat" or "qat:<estimator>") on `scheme`, from `start`.
  config::RunConfig qat_cell_config(const std::string& qat, const std::string& scheme, const fs::path& start, Seed seed) const;
  RunResult base;  // the float run
  std::vector<StudyResult> results;
  std::vector<std::string> refused;  // GGUF cells llama-quantize refuses (gguf_cells.h)

 private:
  // The seed a cell runs with when `seeds` is empty; its cells keep their unsuffixed folders.
  uint64_t default_seed() const;
  std::vector<Seed> seeds_for(const StudyMethod& method) const;
  fs::path cell_dir(const std::string& method, const std::string& scheme, const std::string& observer, Seed seed) const;
  config::RunConfig qat_config(const config::QuantizationConfig& rules, const fs::path& start, Seed seed) const;
  fs::path control_dir(Seed seed) const { return cell_dir("fp32-control", "", "", seed); }
  fs::path ptq_cell(const std::string& method, const std::string& scheme, const std::string& observer, Seed seed,
                    bool on_control = false);
  void qat_cell(const StudyMethod& method, const std::string& scheme, Seed seed);
  void gguf_cell(const StudyMethod& method, const std::string& scheme, const std::string& preset, Seed seed);
  // The float run's importance matrix, written once per study (output_dir/imatrix.gguf, imatrix_chunks).
  std::string study_imatrix();
  void add(const RunResult& run, const std::string& scheme, const std::string& method, const std::string& observer,
           double bits, double seconds, const fs::path& dir, Seed seed);

  const config::StudyConfig& study_;
  fs::path output_dir_, float_run_;
  std::vector<std::string> observers_, keep_float_;
  const config::QuantizerConfig* input_;
  std::set<fs::path> ptq_done_;
  const GgufStudyTools& gguf_;
  std::string imatrix_;
};

StudyRunner::StudyRunner(const config::StudyConfig& study, const fs::path& output_dir, const GgufStudyTools& gguf)
    : study_(study), output_dir_(output_dir), float_run_(study.float_run().empty() ? output_dir / "fp32" : fs::path(study.float_run())),
      observers_(study.ptq_observers().begin(), study.ptq_observers().end()),
      keep_float_(study.keep_float().begin(), study.keep_float().end()),
      input_(study.has_input() ? &study.input() : nullptr), gguf_(gguf) {
  if (observers_.empty()) observers_ = {"minmax"};
}

uint64_t StudyRunner::default_seed() const {
  return study_.qat_trainer().seed() != 0 ? study_.qat_trainer().seed() : study_.base().trainer().seed();
}

std::vector<Seed> StudyRunner::seeds_for(const StudyMethod& method) const {
  if (!study_method_seeded(method, input_ != nullptr)) return {std::nullopt};
  if (study_.seeds_size() == 0) return {default_seed()};
  return std::vector<Seed>(study_.seeds().begin(), study_.seeds().end());
}

fs::path StudyRunner::cell_dir(const std::string& method, const std::string& scheme, const std::string& observer,
                               Seed seed) const {
  std::string name = method + (scheme.empty() ? "" : "-" + scheme) + (observer.empty() ? "" : "-" + observer);
  if (seed && *seed != default_seed()) name += "-seed" + std::to_string(*seed);
  return output_dir_ / folder_safe(name);
}

void StudyRunner::add(const RunResult& run, const std::string& scheme, const std::string& method,
                      const std::string& observer, double bits, double seconds, const fs::path& dir, Seed seed) {
  StudyResult r;
  r.scheme = scheme;
  r.method = method;
  r.observer = observer;
  r.bits_per_weight = bits;
  r.loss = run.val_loss;
  r.accuracy = run.val_accuracy;
  r.metric = run.val_accuracy ? *run.val_accuracy : run.val_loss;
  r.seconds = seconds;
  r.run_dir = dir.string();
  r.seed = seed;
  results.push_back(r);
  print_cell(r);
}

// The run a QAT cell (or, without rules, the FP32 control) trains: the base run started from `start`
// (the float run or a post-training cell), with QAT's steps, optimizer and schedule.
config::RunConfig StudyRunner::qat_config(const config::QuantizationConfig& rules, const fs::path& start, Seed seed) const {
  config::RunConfig run = study_.base();
  *run.mutable_quantization() = rules;
  run.mutable_quantization()->set_init_from(start.string());
  run.mutable_trainer()->MergeFrom(study_.qat_trainer());
  run.mutable_trainer()->clear_run_dir();
  if (seed) run.mutable_trainer()->set_seed(*seed);
  if (study_.has_qat_optimizer()) {
    *run.mutable_optimizer() = study_.qat_optimizer();  // whole message: proto3 cannot merge a 0
  } else {
    const float lr = run.optimizer().lr() > 0 ? run.optimizer().lr() : 1e-3f;
    run.mutable_optimizer()->set_lr(lr / 10);
  }
  if (study_.has_qat_schedule()) *run.mutable_schedule() = study_.qat_schedule();
  return run;
}

void StudyRunner::run_baselines() {
  const double base_seconds = timed([&] { base = train(study_.base(), {float_run_, false, 0}); });
  add(base, "fp32", "fp32", "", 32.0, base_seconds, float_run_, std::nullopt);
  const std::vector<std::string> methods(study_.methods().begin(), study_.methods().end());
  bool any_qat = methods.empty();
  for (const std::string& m : methods) any_qat = any_qat || !parse_study_method(m).qat.empty();
  if (!any_qat) return;
  // The FP32 control: the float run fine-tuned exactly as QAT is (steps, optimizer, schedule, start, seed),
  // without quantization, so QAT's gap can be taken over it.
  StudyMethod control;
  control.qat = "qat";
  for (const Seed seed : seeds_for(control)) {
    const fs::path dir = control_dir(seed);
    RunResult run;
    const double seconds = timed([&] { run = train(qat_config(config::QuantizationConfig(), float_run_, seed), {dir, false, 0}); });
    add(run, "fp32", "fp32_control", "", 32.0, seconds, dir, seed);
  }
}

// One post-training cell from the float run ("ptq": round to nearest with `observer`), or from the
// seed's FP32 control; a cell this study already ran is not run again (a QAT start and its own column
// share it).
fs::path StudyRunner::ptq_cell(const std::string& method, const std::string& scheme, const std::string& observer, Seed seed,
                               bool on_control) {
  const std::string label = on_control ? method + kOnControlSuffix : method;
  const fs::path dir = cell_dir(label, scheme, observer, seed);
  if (!ptq_done_.insert(dir).second) return dir;
  PtqOptions options;
  options.float_run = on_control ? control_dir(seed) : float_run_;
  options.output_dir = dir;
  options.quantization = scheme_rules(observer.empty() ? scheme : scheme + ":" + observer, input_, keep_float_);
  options.calibration_batches = study_.calibration_batches();
  std::string method_text = method == "ptq" ? "rtn" : method;
  if (seed && *seed != default_seed()) {
    options.calibration_seed = *seed;
    method_text = with_seed_option(method_text, *seed);
  }
  options.quantization.mutable_ptq()->set_method(method_text);
  RunResult run;
  const double seconds = timed([&] { run = post_training_quantize(options); });
  // A registry method's cell sits on the row of the scheme's own observer, as QAT's does.
  const double bits = run.bits_per_weight.value_or(fakequant::parse_scheme(scheme).bits_per_element());
  add(run, scheme, label, observer.empty() ? scheme_observer(scheme) : observer, bits, seconds, dir, seed);
  return dir;
}

config::RunConfig StudyRunner::qat_cell_config(const std::string& qat, const std::string& scheme, const fs::path& start,
                                               Seed seed) const {
  const std::string qat_scheme = qat == "qat" ? scheme : scheme + ":" + qat.substr(4);
  return qat_config(scheme_rules(qat_scheme, input_, keep_float_), start, seed);
}

void StudyRunner::qat_cell(const StudyMethod& method, const std::string& scheme, Seed seed) {
  const fs::path start = method.ptq.empty() ? float_run_ : ptq_cell(method.ptq, scheme, "", seed);
  const fs::path dir = cell_dir(method.label, scheme, "", seed);
  const config::RunConfig run_config = qat_cell_config(method.qat, scheme, start, seed);
  RunResult run;
  const double seconds = timed([&] { run = train(run_config, {dir, false, 0}); });
  add(run, scheme, method.label, scheme_observer(scheme), fakequant::parse_scheme(scheme).bits_per_element(), seconds, dir, seed);
}

std::string StudyRunner::study_imatrix() {
  if (imatrix_.empty()) {
    const fs::path path = output_dir_ / "imatrix.gguf";
    fs::create_directories(output_dir_);
    gguf_.imatrix(float_run_, study_.imatrix_chunks() > 0 ? study_.imatrix_chunks() : 128, path);
    imatrix_ = path.string();
  }
  return imatrix_;
}

// A GGUF cell (gguf_cells.h): the float run written in the file type (ptq), or format-exact QAT trained
// and exported (qat); weighted by the study's imatrix with ":imatrix". The row's loss is the file's.
void StudyRunner::gguf_cell(const StudyMethod& method, const std::string& scheme, const std::string& preset, Seed seed) {
  const fs::path dir = cell_dir(method.label, scheme, "", seed);
  const std::string imatrix = method.importance ? study_imatrix() : "";
  GgufCellResult cell;
  RunResult trained;
  std::string refusal;
  const double seconds = timed([&] {
    try {
      if (method.qat.empty()) {
        cell = gguf_ptq_cell(gguf_, float_run_, preset, imatrix, dir);
        return;
      }
      config::QuantizationConfig rules;
      rules.set_preset(preset);
      rules.set_imatrix(imatrix);
      trained = train(qat_config(rules, float_run_, seed), {dir, false, 0});
      cell = gguf_qat_cell(gguf_, dir);
    } catch (const std::invalid_argument& e) {
      // llama-quantize's refusal (the exporter's check_imatrix, or the codec in the QAT forward): a cell, not a crash.
      if (std::string(e.what()).find("needs an importance matrix") == std::string::npos) throw;
      refusal = method.label + " " + scheme + ": " + e.what();
    }
  });
  // A refusal does not depend on the seed: report.md lists it once.
  if (!refusal.empty() && std::find(refused.begin(), refused.end(), refusal) == refused.end()) refused.push_back(refusal);
  std::printf("study: %s\n", cell.wrote.empty() ? ("refused: " + refusal).c_str() : cell.wrote.c_str());
  if (cell.wrote.empty()) return;
  if (!method.qat.empty()) std::printf("study: trained forward val_loss=%.6f, its file %.6f\n", trained.val_loss, cell.run.val_loss);
  add(cell.run, scheme, method.label, "", cell.bits_per_weight, seconds, dir, seed);
}

void StudyRunner::run_method(const StudyMethod& method, const std::string& scheme) {
  if (const std::optional<std::string> preset = gguf_scheme_preset(scheme)) {
    for (const Seed seed : seeds_for(method)) gguf_cell(method, scheme, *preset, seed);
    return;
  }
  for (const Seed seed : seeds_for(method)) {
    if (!method.qat.empty()) {
      qat_cell(method, scheme, seed);
    } else if (method.ptq == "ptq") {
      for (const std::string& observer : observers_) ptq_cell("ptq", scheme, observer, seed);
    } else {
      ptq_cell(method.label, scheme, "", seed);
    }
  }
}

void StudyRunner::run_on_control(const StudyMethod& method, const std::string& scheme) {
  StudyMethod control;
  control.qat = "qat";
  for (const Seed seed : seeds_for(control)) ptq_cell(method.label, scheme, "", seed, true);
}

// The QAT methods trained from the float run ("qat", "qat:lsq", ...): the budget split's default methods.
std::vector<std::string> qat_from_float(const std::vector<StudyMethod>& methods) {
  std::vector<std::string> qat;
  for (const StudyMethod& m : methods)
    if (!m.qat.empty() && m.ptq.empty() && m.scheme.empty()) qat.push_back(m.qat);
  return qat;
}

// Every method, scheme and observer is checked before the float run starts, so a typo fails in
// seconds, not after training.
std::vector<StudyMethod> checked_methods(const config::StudyConfig& study, bool have_gguf_tools) {
  if (study.weight_schemes_size() == 0) throw std::invalid_argument("study: weight_schemes is empty");
  if (study.base().quantization().rules_size() > 0 || !study.base().quantization().preset().empty()) {
    throw std::invalid_argument("study: base must be a float run; the grid adds the quantization");
  }
  std::vector<std::string> texts(study.methods().begin(), study.methods().end());
  if (texts.empty()) texts = {"ptq", "qat"};
  std::vector<StudyMethod> methods;
  for (const std::string& text : texts) methods.push_back(parse_study_method(text));
  std::vector<std::string> observers(study.ptq_observers().begin(), study.ptq_observers().end());
  if (observers.empty()) observers = {"minmax"};
  for (int i = 0; i < study.weight_schemes_size(); ++i) {
    if (gguf_scheme_preset(study.weight_schemes(i))) continue;  // check_gguf_cells
    quantizer_spec(config_of(study.weight_schemes(i)), "study.weight_schemes[" + std::to_string(i) + "]");
    for (const std::string& observer : observers) {
      quantizer_spec(config_of(study.weight_schemes(i) + ":" + observer), "study.ptq_observers '" + observer + "'");
    }
  }
  for (const StudyMethod& m : methods) {
    if (!m.scheme.empty() && !gguf_scheme_preset(m.scheme)) {
      quantizer_spec(config_of(m.scheme), "study.methods '" + m.label + "@" + m.scheme + "'");
    }
  }
  for (const std::string& text : study.control_methods()) {
    const StudyMethod m = parse_study_method(text);
    const bool any_qat = std::any_of(methods.begin(), methods.end(), [](const StudyMethod& x) { return !x.qat.empty(); });
    if (!m.qat.empty() || m.ptq == "ptq" || !any_qat) {
      throw std::invalid_argument("study.control_methods: '" + text + "': a post-training method other than ptq (rtn, gptq:act_order, ...), "
                                  "in a study with a QAT method (the FP32 control runs only then)");
    }
    if (!m.scheme.empty()) quantizer_spec(config_of(m.scheme), "study.control_methods '" + text + "'");
  }
  if (study.has_input()) quantizer_spec(study.input(), "study.input");
  check_gguf_cells(study, methods, have_gguf_tools);
  (void)plan_budget_split(study, qat_from_float(methods));
  return methods;
}

}  // namespace

config::StudyConfig load_study_config(const std::filesystem::path& path) {
  config::StudyConfig study;
  parse_text_message(read_config_file(path), path.string(), study);
  return study;
}

std::vector<StudyResult> run_study(const config::StudyConfig& study, const std::filesystem::path& output_dir,
                                   const std::string& command, const GgufStudyTools& gguf) {
  const std::vector<StudyMethod> methods = checked_methods(study, gguf.export_gguf && gguf.imatrix);
  const std::vector<std::string> weight_schemes(study.weight_schemes().begin(), study.weight_schemes().end());
  StudyRunner runner(study, output_dir, gguf);
  runner.run_baselines();
  // Scheme by scheme as before; a method bound to one scheme ("@", QuIP#) runs after the grid.
  for (const std::string& scheme : weight_schemes) {
    for (const StudyMethod& method : methods) {
      if (method.scheme.empty()) runner.run_method(method, scheme);
    }
  }
  for (const StudyMethod& method : methods) {
    if (!method.scheme.empty()) runner.run_method(method, method.scheme);
  }
  for (const std::string& text : study.control_methods()) {
    const StudyMethod method = parse_study_method(text);
    for (const std::string& scheme : study_method_schemes(method, weight_schemes)) runner.run_on_control(method, scheme);
  }
  const std::vector<BudgetSplitResult> split = run_budget_split(
      study, output_dir, qat_from_float(methods),
      [&runner](const std::string& qat, const std::string& scheme, const fs::path& start) {
        return runner.qat_cell_config(qat, scheme, start, std::nullopt);
      });
  if (!split.empty()) io::write_file_atomically(output_dir / "budget_split.csv", budget_split_csv(split));
  StudyReportOptions report;
  report.extra_markdown = refused_cells_markdown(runner.refused) + budget_split_markdown(split);
  report.title = study.title().empty() ? "QAT vs PTQ" : study.title();
  const bool classifier = runner.base.val_accuracy.has_value();
  report.metric_name = classifier ? "accuracy" : "validation loss";
  report.higher_is_better = classifier;
  std::string text;
  google::protobuf::TextFormat::PrintToString(study, &text);
  report.config_text = text;
  report.command = command;
  write_study_report(output_dir.string(), runner.results, report);
  return runner.results;
}

}  // namespace qforge::trainers
