#include "trainers/study/study_report.h"

// The study's results as data: runs merged over seeds, and results.csv.
#include <algorithm>
#include <cmath>

#include "trainers/study/report_text.h"

namespace qforge::trainers {

std::vector<StudyResult> aggregate_seeds(const std::vector<StudyResult>& results) {
  std::vector<StudyResult> cells;
  std::vector<std::vector<const StudyResult*>> members;
  for (const StudyResult& r : results) {
    size_t i = 0;
    for (; i < cells.size(); ++i) {
      const StudyResult& c = cells[i];
      if (c.scheme != r.scheme || c.method != r.method || c.observer != r.observer || !r.seed) continue;
      const auto& m = members[i];
      if (std::none_of(m.begin(), m.end(), [&](const StudyResult* x) { return !x->seed || *x->seed == *r.seed; })) break;
    }
    if (i == cells.size()) {
      cells.push_back(r);
      members.emplace_back();
    }
    members[i].push_back(&r);
  }
  for (size_t i = 0; i < cells.size(); ++i) {
    const auto& m = members[i];
    if (m.size() < 2) continue;
    StudyResult& c = cells[i];
    const double n = static_cast<double>(m.size());
    double metric = 0, loss = 0, accuracy = 0, seconds = 0, bits = 0, squares = 0;
    for (const StudyResult* r : m) {
      metric += r->metric, loss += r->loss, accuracy += r->accuracy.value_or(0), seconds += r->seconds;
      bits += r->bits_per_weight;  // SpQR's outlier count, hence its bits, varies with the calibration
    }
    c.metric = metric / n, c.loss = loss / n, c.seconds = seconds, c.bits_per_weight = bits / n;
    c.runs = static_cast<int>(m.size());
    if (c.accuracy) c.accuracy = accuracy / n;
    for (const StudyResult* r : m) squares += (r->metric - c.metric) * (r->metric - c.metric);
    c.metric_sd = std::sqrt(squares / (n - 1));
    c.seed.reset();
  }
  return cells;
}

std::string study_results_csv(const std::vector<StudyResult>& results) {
  // RFC 4180 asks for CRLF; plain LF is what every CSV reader (pandas, Python csv, R) also accepts
  // and what shell tools expect. Fields with line breaks are quoted either way.
  std::string csv = "scheme,method,observer,bits_per_weight,metric,loss,accuracy,seconds,run_dir,seed\n";
  for (const StudyResult& r : results) {
    csv += csv_field(r.scheme) + ',' + csv_field(r.method) + ',' + csv_field(r.observer) + ',' +
           exact_number(r.bits_per_weight) + ',' + exact_number(r.metric) + ',' + exact_number(r.loss) + ',' +
           (r.accuracy ? exact_number(*r.accuracy) : "") + ',' + exact_number(r.seconds) + ',' +
           csv_field(r.run_dir) + ',' + (r.seed ? std::to_string(*r.seed) : "") + '\n';
  }
  return csv;
}

}  // namespace qforge::trainers
