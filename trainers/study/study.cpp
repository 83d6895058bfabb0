#include "trainers/study/study.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <stdexcept>

#include <google/protobuf/text_format.h>

#include "fakequant/quantizer_spec.h"
#include "io/atomic_file.h"
#include "ptq/method.h"
#include "trainers/post_training_quantization.h"
#include "trainers/quantization_setup.h"
#include "trainers/study/budget_split.h"
#include "trainers/trainer.h"

namespace qforge::trainers {
namespace {

std::string cell_name(const std::string& method, const std::string& scheme, const std::string& observer) {
  std::string name = method + "-" + scheme + (observer.empty() ? "" : "-" + observer);
  for (char& c : name) {
    if (c == ':' || c == '/' || c == ' ' || c == '=' || c == ',') c = '-';
  }
  return name;
}

StudyResult make_result(const RunResult& run, const std::string& scheme, const std::string& method,
                        const std::string& observer, double bits, double seconds, const std::filesystem::path& dir) {
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
  return r;
}

// QAT cells: "qat" (the scheme's own estimator, STE by default) or "qat:<estimator>" (lsq, lsq_plus, ...).
bool is_qat(const std::string& method) { return method == "qat" || method.rfind("qat:", 0) == 0; }

// "ptq" (round to nearest, once per PTQ observer), "qat[:<estimator>]", or a method string of the ptq/
// registry ("gptq", "gptq:act_order", "awq", ...: once per scheme, the method choosing the weights).
void check_method(const std::string& method) {
  if (method == "ptq" || method == "qat") return;
  if (is_qat(method)) {
    try {
      (void)fakequant::estimator_from_name(method.substr(4));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("study.methods: '" + method + "': " + e.what());
    }
    return;
  }
  try {
    (void)ptq::parse_method(method);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("study.methods: '" + method + "' is not ptq, qat or a post-training method (" + e.what() + ")");
  }
}

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

// One PTQ cell from the study's float run; `method` "ptq" is round to nearest.
StudyResult ptq_cell(const config::StudyConfig& study, const std::filesystem::path& output_dir, const std::string& scheme,
                     const std::string& method, const std::string& observer, const config::QuantizationConfig& rules) {
  PtqOptions options;
  options.float_run = output_dir / "fp32";
  options.output_dir = output_dir / cell_name(method, scheme, observer);
  options.quantization = rules;
  options.calibration_batches = study.calibration_batches();
  options.method = method == "ptq" ? "rtn" : method;
  RunResult run;
  const double seconds = timed([&] { run = post_training_quantize(options); });
  // A registry method's cell sits on the row of the scheme's own observer, as QAT's does.
  const std::string label = observer.empty() ? fakequant::observer_name(fakequant::parse_scheme(scheme).observer.kind) : observer;
  return make_result(run, scheme, method, label, fakequant::parse_scheme(scheme).bits_per_element(), seconds, options.output_dir);
}

config::RunConfig qat_config(const config::StudyConfig& study, const config::QuantizationConfig& rules,
                             const std::filesystem::path& float_run) {
  config::RunConfig run = study.base();
  *run.mutable_quantization() = rules;
  run.mutable_quantization()->set_init_from(float_run.string());
  run.mutable_trainer()->MergeFrom(study.qat_trainer());
  run.mutable_trainer()->clear_run_dir();
  if (study.has_qat_optimizer()) {
    *run.mutable_optimizer() = study.qat_optimizer();  // whole message: proto3 cannot merge a 0
  } else {
    const float lr = run.optimizer().lr() > 0 ? run.optimizer().lr() : 1e-3f;
    run.mutable_optimizer()->set_lr(lr / 10);
  }
  if (study.has_qat_schedule()) *run.mutable_schedule() = study.qat_schedule();
  return run;
}

// The QAT cell of (method, scheme) from `float_run`: "qat" trains the scheme's own estimator, "qat:<e>" appends <e>.
config::RunConfig qat_cell_config(const config::StudyConfig& study, const std::string& method, const std::string& scheme,
                                  const std::filesystem::path& float_run) {
  const std::vector<std::string> keep_float(study.keep_float().begin(), study.keep_float().end());
  const std::string qat_scheme = method == "qat" ? scheme : scheme + ":" + method.substr(4);
  return qat_config(study, scheme_rules(qat_scheme, study.has_input() ? &study.input() : nullptr, keep_float), float_run);
}

void print_cell(const StudyResult& r) {
  std::printf("study: %-14s %-18s %-10s bits=%5.2f val_loss=%.4f", r.method.c_str(), r.scheme.c_str(),
              r.observer.c_str(), r.bits_per_weight, r.loss);
  if (r.accuracy) std::printf(" val_accuracy=%.4f", *r.accuracy);
  std::printf(" (%.1f s)\n", r.seconds);
  std::fflush(stdout);
}

}  // namespace

config::StudyConfig load_study_config(const std::filesystem::path& path) {
  config::StudyConfig study;
  parse_text_message(read_config_file(path), path.string(), study);
  return study;
}

std::vector<StudyResult> run_study(const config::StudyConfig& study, const std::filesystem::path& output_dir,
                                   const std::string& command) {
  if (study.weight_schemes_size() == 0) throw std::invalid_argument("study: weight_schemes is empty");
  if (study.base().quantization().rules_size() > 0 || !study.base().quantization().preset().empty()) {
    throw std::invalid_argument("study: base must be a float run; the grid adds the quantization");
  }
  std::vector<std::string> methods(study.methods().begin(), study.methods().end());
  if (methods.empty()) methods = {"ptq", "qat"};
  std::vector<std::string> observers(study.ptq_observers().begin(), study.ptq_observers().end());
  if (observers.empty()) observers = {"minmax"};
  for (const std::string& m : methods) check_method(m);
  // Every scheme is checked before the float run starts, so a typo fails in seconds, not after training.
  for (int i = 0; i < study.weight_schemes_size(); ++i) {
    quantizer_spec(config_of(study.weight_schemes(i)), "study.weight_schemes[" + std::to_string(i) + "]");
    for (const std::string& observer : observers) {
      quantizer_spec(config_of(study.weight_schemes(i) + ":" + observer), "study.ptq_observers '" + observer + "'");
    }
  }
  if (study.has_input()) quantizer_spec(study.input(), "study.input");
  std::vector<std::string> qat_methods;
  std::copy_if(methods.begin(), methods.end(), std::back_inserter(qat_methods), is_qat);
  (void)plan_budget_split(study, qat_methods);
  const std::vector<std::string> keep_float(study.keep_float().begin(), study.keep_float().end());
  const config::QuantizerConfig* input = study.has_input() ? &study.input() : nullptr;

  std::vector<StudyResult> results;
  const std::filesystem::path float_run = output_dir / "fp32";
  RunResult base;
  const double base_seconds = timed([&] { base = train(study.base(), {float_run, false, 0}); });
  results.push_back(make_result(base, "fp32", "fp32", "", 32.0, base_seconds, float_run));
  print_cell(results.back());
  if (std::any_of(methods.begin(), methods.end(), is_qat)) {
    // The FP32 control: the float run fine-tuned exactly as QAT is (steps, optimizer, schedule, start),
    // without quantization, so QAT's gap can be taken over it.
    const std::filesystem::path dir = output_dir / "fp32-control";
    RunResult control;
    const double seconds = timed([&] { control = train(qat_config(study, config::QuantizationConfig(), float_run), {dir, false, 0}); });
    results.push_back(make_result(control, "fp32", "fp32_control", "", 32.0, seconds, dir));
    print_cell(results.back());
  }

  for (const std::string& scheme : study.weight_schemes()) {
    const double bits = fakequant::parse_scheme(scheme).bits_per_element();
    for (const std::string& method : methods) {
      if (method == "ptq") {
        for (const std::string& observer : observers) {
          results.push_back(ptq_cell(study, output_dir, scheme, "ptq", observer, scheme_rules(scheme + ":" + observer, input, keep_float)));
          print_cell(results.back());
        }
      } else if (!is_qat(method)) {
        results.push_back(ptq_cell(study, output_dir, scheme, method, "", scheme_rules(scheme, input, keep_float)));
        print_cell(results.back());
      } else {
        const std::filesystem::path dir = output_dir / cell_name(method, scheme, "");
        const config::RunConfig run_config = qat_cell_config(study, method, scheme, float_run);
        RunResult run;
        const double seconds = timed([&] { run = train(run_config, {dir, false, 0}); });
        const std::string observer = fakequant::observer_name(fakequant::parse_scheme(scheme).observer.kind);
        results.push_back(make_result(run, scheme, method, observer, bits, seconds, dir));
        print_cell(results.back());
      }
    }
  }
  const std::vector<BudgetSplitResult> split = run_budget_split(
      study, output_dir, qat_methods, [&study](const std::string& method, const std::string& scheme, const std::filesystem::path& run) {
        return qat_cell_config(study, method, scheme, run);
      });
  StudyReportOptions report;
  report.extra_markdown = budget_split_markdown(split);
  if (!split.empty()) io::write_file_atomically(output_dir / "budget_split.csv", budget_split_csv(split));
  report.title = study.title().empty() ? "QAT vs PTQ" : study.title();
  const bool classifier = base.val_accuracy.has_value();
  report.metric_name = classifier ? "accuracy" : "validation loss";
  report.higher_is_better = classifier;
  std::string text;
  google::protobuf::TextFormat::PrintToString(study, &text);
  report.config_text = text;
  report.command = command;
  write_study_report(output_dir.string(), results, report);
  return results;
}

}  // namespace qforge::trainers
