#include "trainers/study/study_report.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"
#include "trainers/study/report_text.h"
#include "trainers/study/svg_plot.h"

namespace qforge::trainers {
namespace {

constexpr const char* kBaselineMethod = "fp32";
// The float run trained for QAT's extra steps at QAT's learning rate: what QAT's gap must be measured
// against, since a QAT fine-tune of a float model also keeps training it.
constexpr const char* kControlMethod = "fp32_control";
constexpr const char* kMissingCell = "—";
// Colorblind-safe qualitative palette (Okabe & Ito, "Color Universal Design", 2008).
const char* const kPlotPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};

std::string fixed4(double value) { return printf_number("%.4f", value); }
std::string signed_fixed4(double value) { return printf_number("%+.4f", value); }

// A cell's metric: the mean ± its sample sd and n when repeated over seeds.
std::string metric_text(const StudyResult& r) {
  if (r.runs <= 1) return fixed4(r.metric);
  return fixed4(r.metric) + " ± " + fixed4(r.metric_sd) + " (n=" + std::to_string(r.runs) + ")";
}

// Methods that fine-tune ("qat", "qat:lsq", "gptq+qat:lsq"): measured over the FP32 control too.
bool trains(const std::string& method) {
  return method == "qat" || method.rfind("qat:", 0) == 0 || method.find("+qat") != std::string::npos;
}

std::string method_label(const std::string& method) {
  std::string label = method;
  std::transform(label.begin(), label.end(), label.begin(), [](unsigned char c) { return std::toupper(c); });
  return label;
}

std::string series_label(const std::string& method, const std::string& observer) {
  return observer.empty() ? method_label(method) : method_label(method) + " (" + observer + ")";
}

// A table cell: '|' would end the cell and a newline the row.
std::string markdown_cell(const std::string& text) {
  std::string cell;
  for (char c : text) {
    if (c == '|') cell += "\\|";
    else cell += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return cell;
}

bool on_control(const std::string& method) {
  const std::string suffix = kOnControlSuffix;
  return method.size() > suffix.size() && method.compare(method.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_baseline(const StudyResult& r) { return r.method == kBaselineMethod || r.method == kControlMethod; }

const StudyResult* find_control(const std::vector<StudyResult>& results) {
  for (const StudyResult& r : results)
    if (r.method == kControlMethod) return &r;
  return nullptr;
}

bool better(double a, double b, bool higher_is_better) { return higher_is_better ? a > b : a < b; }

const StudyResult* find_baseline(const std::vector<StudyResult>& results, const std::string& scheme) {
  const StudyResult* first = nullptr;
  for (const StudyResult& r : results) {
    if (r.method != kBaselineMethod) continue;
    if (r.scheme == scheme) return &r;
    if (!first) first = &r;
  }
  return first;
}

// Distinct values of `field` over the quantized (non-baseline) results, in order of first appearance.
template <typename Field>
std::vector<std::string> distinct_quantized(const std::vector<StudyResult>& results, Field field) {
  std::vector<std::string> values;
  for (const StudyResult& r : results) {
    if (!is_baseline(r) && std::find(values.begin(), values.end(), field(r)) == values.end()) {
      values.push_back(field(r));
    }
  }
  return values;
}

// PTQ and QAT first, then any other method in order of appearance.
std::vector<std::string> method_columns(const std::vector<StudyResult>& results) {
  const std::vector<std::string> found = distinct_quantized(results, [](const StudyResult& r) { return r.method; });
  std::vector<std::string> methods;
  for (const char* known : {"ptq", "qat"}) {
    if (std::find(found.begin(), found.end(), known) != found.end()) methods.push_back(known);
  }
  for (const std::string& m : found) {
    if (m != "ptq" && m != "qat") methods.push_back(m);
  }
  return methods;
}

// One row per observer; a second result for the same (scheme, method, observer) opens another row
// rather than being dropped, so repeated cells stay visible.
struct TableRow {
  std::string observer;
  std::vector<std::pair<std::string, const StudyResult*>> cells;  // method -> result

  const StudyResult* cell(const std::string& method) const {
    for (const auto& [m, r] : cells) {
      if (m == method) return r;
    }
    return nullptr;
  }
};

std::vector<TableRow> scheme_rows(const std::vector<StudyResult>& results, const std::string& scheme) {
  std::vector<TableRow> rows;
  for (const StudyResult& r : results) {
    if (is_baseline(r) || r.scheme != scheme) continue;
    auto row = std::find_if(rows.begin(), rows.end(), [&](const TableRow& t) {
      return t.observer == r.observer && !t.cell(r.method);
    });
    if (row == rows.end()) row = rows.insert(rows.end(), TableRow{r.observer, {}});
    row->cells.emplace_back(r.method, &r);
  }
  return rows;
}

// The best finite metric among the quantized results of `scheme`, or nullptr.
const StudyResult* best_of_scheme(const std::vector<StudyResult>& results, const std::string& scheme,
                                  bool higher_is_better) {
  const StudyResult* best = nullptr;
  for (const StudyResult& r : results) {
    if (is_baseline(r) || r.scheme != scheme || !std::isfinite(r.metric)) continue;
    if (!best || better(r.metric, best->metric, higher_is_better)) best = &r;
  }
  return best;
}

std::string delta_to(const StudyResult* baseline, double value) {
  return baseline ? signed_fixed4(value - baseline->metric) : kMissingCell;
}

void append_scheme_table(std::ostringstream& md, const std::vector<StudyResult>& results, const std::string& scheme,
                         const std::vector<std::string>& methods, const StudyReportOptions& options) {
  const std::vector<TableRow> rows = scheme_rows(results, scheme);
  const StudyResult* baseline = find_baseline(results, scheme);
  const StudyResult* best = best_of_scheme(results, scheme, options.higher_is_better);
  std::vector<std::string> present;
  std::vector<double> bits;  // of each present method's first cell
  for (const std::string& m : methods) {
    for (const TableRow& row : rows) {
      if (!row.cell(m)) continue;
      present.push_back(m);
      bits.push_back(row.cell(m)->bits_per_weight);
      break;
    }
  }
  // Methods that store their own format (SpQR, QuIP#) count other bits than the scheme: then each
  // column states its own.
  const bool same_bits = std::all_of(bits.begin(), bits.end(), [&](double b) { return b == bits.front(); });
  md << "### " << scheme;
  if (same_bits) md << " (" << printf_number("%g", bits.front()) << " bits/weight)";
  md << "\n\n| observer | FP32 |";
  for (size_t i = 0; i < present.size(); ++i) {
    const std::string label = method_label(present[i]) + (same_bits ? "" : " (" + printf_number("%.3g", bits[i]) + " bits)");
    md << ' ' << label << " | Δ " << method_label(present[i]) << (on_control(present[i]) ? " vs control" : "") << " |";
  }
  const StudyResult* control = find_control(results);
  std::vector<std::string> trained;
  for (const std::string& m : present)
    if (control && trains(m)) trained.push_back(m);
  for (const std::string& m : trained) md << " Δ " << method_label(m) << " vs control |";
  md << "\n|---|---:|";
  for (size_t i = 0; i < present.size(); ++i) md << "---:|---:|";
  for (size_t i = 0; i < trained.size(); ++i) md << "---:|";
  md << '\n';
  for (const TableRow& row : rows) {
    md << "| " << (row.observer.empty() ? kMissingCell : markdown_cell(row.observer)) << " | "
       << (baseline ? fixed4(baseline->metric) : kMissingCell) << " |";
    for (const std::string& m : present) {
      const StudyResult* r = row.cell(m);
      if (!r) {
        md << ' ' << kMissingCell << " | " << kMissingCell << " |";
        continue;
      }
      const bool is_best = best && r->metric == best->metric;  // ties are all bold
      md << ' ' << (is_best ? "**" + metric_text(*r) + "**" : metric_text(*r)) << " | "
         << delta_to(on_control(m) ? control : baseline, r->metric) << " |";
    }
    for (const std::string& m : trained) md << ' ' << (row.cell(m) ? delta_to(control, row.cell(m)->metric) : kMissingCell) << " |";
    md << '\n';
  }
  md << '\n';
}

// "QAT beats PTQ in k of n pairs": the question the study exists to answer, per (scheme, observer).
void append_qat_vs_ptq(std::ostringstream& md, const std::vector<StudyResult>& results,
                       const std::vector<std::string>& schemes, bool higher_is_better) {
  int pairs = 0, qat_wins = 0;
  for (const std::string& scheme : schemes) {
    for (const TableRow& row : scheme_rows(results, scheme)) {
      const StudyResult *ptq = row.cell("ptq"), *qat = row.cell("qat");
      if (!ptq || !qat || !std::isfinite(ptq->metric) || !std::isfinite(qat->metric)) continue;
      ++pairs;
      if (better(qat->metric, ptq->metric, higher_is_better)) ++qat_wins;
    }
  }
  if (pairs > 0) {
    md << "QAT beats PTQ in " << qat_wins << " of " << pairs << " pairs with the same scheme and observer.\n\n";
  }
}

// QAT's gap over the control against a post-training method's gap over the same control (both from a
// model trained for the same steps): the ratio the study exists to measure, per scheme.
void append_control_ratios(std::ostringstream& md, const std::vector<StudyResult>& results,
                           const std::vector<std::string>& schemes, bool higher_is_better) {
  const StudyResult* control = find_control(results);
  if (!control) return;
  const auto gap = [&](const StudyResult& r) { return higher_is_better ? control->metric - r.metric : r.metric - control->metric; };
  for (const std::string& scheme : schemes) {
    const StudyResult* qat = nullptr;
    for (const StudyResult& r : results)
      if (r.scheme == scheme && trains(r.method) && std::isfinite(r.metric) && (!qat || gap(r) < gap(*qat))) qat = &r;
    if (!qat) continue;
    for (const StudyResult& r : results) {
      if (r.scheme != scheme || !on_control(r.method) || !(gap(r) > 0)) continue;
      md << "On " << scheme << ", the best QAT cell " << method_label(qat->method) << " is " << signed_fixed4(gap(*qat))
         << " over the FP32 control, " << printf_number("%.2f", gap(*qat) / gap(r)) << "x the gap of "
         << method_label(r.method) << " (" << signed_fixed4(gap(r)) << ").\n\n";
    }
  }
}

void append_best_cells(std::ostringstream& md, const std::vector<StudyResult>& results,
                       const std::vector<std::string>& schemes, const StudyReportOptions& options) {
  md << "## Best cells\n\n| scheme | bits/weight | best cell | " << markdown_cell(options.metric_name)
     << " | Δ FP32 |\n|---|---:|---|---:|---:|\n";
  const StudyResult* overall = nullptr;
  for (const std::string& scheme : schemes) {
    const StudyResult* best = best_of_scheme(results, scheme, options.higher_is_better);
    if (!best) continue;
    if (!overall || better(best->metric, overall->metric, options.higher_is_better)) overall = best;
    md << "| " << markdown_cell(scheme) << " | " << printf_number("%g", best->bits_per_weight) << " | "
       << markdown_cell(series_label(best->method, best->observer)) << " | " << metric_text(*best) << " | "
       << delta_to(find_baseline(results, scheme), best->metric) << " |\n";
  }
  md << '\n';
  if (overall) {
    md << "Best quantized cell: " << series_label(overall->method, overall->observer) << " on " << overall->scheme
       << ", " << fixed4(overall->metric) << " (" << delta_to(find_baseline(results, overall->scheme), overall->metric)
       << " vs FP32).\n\n";
  }
  append_qat_vs_ptq(md, results, schemes, options.higher_is_better);
  if (const StudyResult* control = find_control(results)) {
    md << "FP32 control (the float run trained for QAT's extra steps at QAT's learning rate): " << metric_text(*control)
       << " (" << delta_to(find_baseline(results, ""), control->metric)
       << " vs FP32). Part of QAT's gain over FP32 is this extra training; the \"Δ QAT vs control\" columns "
          "take it out.\n\n";
  }
  append_control_ratios(md, results, schemes, options.higher_is_better);
}

// A fenced code block whose fence is longer than any backtick run inside the text (CommonMark 4.5).
void append_fenced(std::ostringstream& md, const std::string& text, const std::string& language) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  const std::string fence(std::max<size_t>(3, longest + 1), '`');
  md << fence << language << '\n' << text << (text.empty() || text.back() != '\n' ? "\n" : "") << fence << "\n\n";
}

}  // namespace

std::string study_report_markdown(const std::vector<StudyResult>& runs, const StudyReportOptions& options) {
  const std::vector<StudyResult> results = aggregate_seeds(runs);
  const std::vector<std::string> schemes = distinct_quantized(results, [](const StudyResult& r) { return r.scheme; });
  const std::vector<std::string> methods = method_columns(results);
  double total_seconds = 0;
  for (const StudyResult& r : results) total_seconds += r.seconds;
  std::ostringstream md;
  md << "# " << options.title << "\n\nMetric: " << options.metric_name << " ("
     << (options.higher_is_better ? "higher" : "lower") << " is better). " << results.size()
     << " cells, total wall time " << printf_number("%.1f", total_seconds) << " s.";
  if (results.size() != runs.size()) {
    md << " Cells repeated over seeds (" << runs.size() << " runs) show mean ± sample sd (n); Δs are between means.";
  }
  md << "\n\n";
  if (!options.command.empty()) {
    md << "Command:\n\n";
    append_fenced(md, options.command, "sh");
  }
  md << "![" << options.metric_name << " against bits per weight](plot.svg)\n\n";
  append_best_cells(md, results, schemes, options);
  md << "## Results per scheme\n\nΔ is the difference to the FP32 baseline; the best cell of each scheme is bold.\n\n";
  for (const std::string& scheme : schemes) append_scheme_table(md, results, scheme, methods, options);
  md << "Bits per weight are the scheme's (scales and zero points included), or what the method counts when it "
        "stores its own format (SpQR: codes, 3-bit statistics and outliers; QuIP#: 2-bit E8P codes). A \"+QAT\" "
        "column is QAT initialised from that post-training cell's weights and scales.\n\n"
        "Loss, accuracy, wall time, seed and run folder of every run are in [results.csv](results.csv).\n\n";
  md << options.extra_markdown;
  if (!options.config_text.empty()) {
    md << "## Config\n\n";
    append_fenced(md, options.config_text, "text");
  }
  return md.str();
}

std::string study_plot_svg(const std::vector<StudyResult>& runs, const StudyReportOptions& options) {
  const std::vector<StudyResult> results = aggregate_seeds(runs);
  PlotOptions plot;
  plot.title = options.title;
  plot.y_label = options.metric_name;
  plot.log2_x = std::all_of(results.begin(), results.end(), [](const StudyResult& r) {
    return is_baseline(r) || r.bits_per_weight > 0;
  });
  plot.x_label = plot.log2_x ? "bits per weight (log2 scale)" : "bits per weight";
  if (const StudyResult* baseline = find_baseline(results, "")) {
    plot.reference = PlotReference{"FP32 (" + fixed4(baseline->metric) + ")", baseline->metric};
  }
  // PTQ and QAT with the same observer share a color, PTQ dashed and QAT solid, so each pair reads
  // as one comparison; any other method takes the colors after the observers'.
  const std::vector<std::string> observers =
      distinct_quantized(results, [](const StudyResult& r) { return r.observer; });
  size_t next_extra_color = observers.size();
  std::vector<PlotSeries> series;
  for (const std::string& method : method_columns(results)) {
    for (size_t o = 0; o < observers.size(); ++o) {
      PlotSeries s{series_label(method, observers[o]), {}, "", /*dashed=*/method == "ptq"};
      for (const StudyResult& r : results) {
        if (r.method == method && r.observer == observers[o]) s.points.emplace_back(r.bits_per_weight, r.metric);
      }
      if (s.points.empty()) continue;
      const bool paired = method == "ptq" || method == "qat";
      s.color = kPlotPalette[(paired ? o : next_extra_color++) % std::size(kPlotPalette)];
      series.push_back(std::move(s));
    }
  }
  return render_line_plot(plot, series);
}

void write_study_report(const std::string& dir, const std::vector<StudyResult>& results,
                        const StudyReportOptions& options) {
  if (results.empty()) throw std::invalid_argument("write_study_report: no results to report in " + dir);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw std::runtime_error(dir + ": cannot create the study report folder: " + error.message());
  const std::filesystem::path folder(dir);
  io::write_file_atomically(folder / "results.csv", study_results_csv(results));
  io::write_file_atomically(folder / "plot.svg", study_plot_svg(results, options));
  io::write_file_atomically(folder / "report.md", study_report_markdown(results, options));
}

}  // namespace qforge::trainers
