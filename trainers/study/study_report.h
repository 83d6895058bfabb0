#pragma once
// The report of `qforge study`, a grid of quantization schemes x methods (FP32 baseline, PTQ, QAT)
// x observers: a CSV with every cell, a Markdown summary that puts PTQ and QAT side by side with
// their distance to FP32, and an SVG plot of the metric against bits per weight.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qforge::trainers {

struct StudyResult {
  std::string scheme;        // e.g. "int4:g32"
  std::string method;        // "fp32" | "ptq" | "qat" (other names get their own column)
  std::string observer;      // "minmax", "mse", ...; may be empty
  double bits_per_weight = 32.0;
  double metric = 0.0;       // accuracy (0..1) or validation loss; what the tables and the plot show
  double loss = 0.0;         // validation loss (also for classifiers)
  std::optional<double> accuracy;
  double seconds = 0.0;      // wall time of that cell
  std::string run_dir;       // where its checkpoint/metrics are
  std::optional<uint64_t> seed;  // the trainer / calibration seed of a seeded cell (StudyConfig.seeds)
  // Rows of aggregate_seeds only: the runs of one cell over seeds, metric/loss/accuracy/bits their means,
  // metric_sd the sample standard deviation (n - 1), seconds their sum.
  int runs = 1;
  double metric_sd = 0.0;
};

// The method suffix of a post-training cell run on the FP32 control (StudyConfig.control_methods):
// its Δ is taken over the control, and QAT's gap over the control is compared with it.
inline constexpr const char* kOnControlSuffix = " on control";

struct StudyReportOptions {
  std::string title;
  std::string metric_name;  // e.g. "accuracy" or "validation loss"
  bool higher_is_better = true;
  std::string config_text;  // the study config, embedded verbatim
  std::string command;      // the command line that produced the study
  std::string extra_markdown;  // sections placed before the config (e.g. the budget split's)
};

// Writes dir/results.csv (header + one row per result, i.e. per run and seed, RFC 4180 quoting),
// dir/report.md (title, command, one table per scheme with FP32/PTQ/QAT side by side and each one's
// delta to FP32, best cells, the embedded config and a link to the plot; cells repeated over seeds as
// mean ± sd (n)) and dir/plot.svg (means), each written with
// io::write_file_atomically. Creates dir when missing.
// The FP32 baseline of a scheme is the "fp32" result with the same scheme, else the first "fp32" result.
// Throws std::invalid_argument for no results, std::runtime_error naming the file that failed.
void write_study_report(const std::string& dir, const std::vector<StudyResult>& results,
                        const StudyReportOptions& options);

// The pieces write_study_report writes, for callers that want them in memory.
std::string study_results_csv(const std::vector<StudyResult>& results);
std::string study_report_markdown(const std::vector<StudyResult>& results, const StudyReportOptions& options);
std::string study_plot_svg(const std::vector<StudyResult>& results, const StudyReportOptions& options);

// One row per cell: results with the same scheme, method and observer and different seeds merged (in
// order of first appearance); a repeated seed (or a second unseeded run) opens a row of its own.
std::vector<StudyResult> aggregate_seeds(const std::vector<StudyResult>& results);

}  // namespace qforge::trainers
