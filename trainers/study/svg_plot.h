#pragma once
// A small self-written SVG line/scatter chart for study reports (metric against bits per weight):
// one polyline plus circle markers per series, an optional dashed horizontal reference line (the
// FP32 baseline), a legend right of the plot area, axis labels and a title. No dependencies; the
// output is a standalone SVG 1.1 document (https://www.w3.org/TR/SVG11/) with all text XML-escaped.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qforge::trainers {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); drawn sorted by x, non-finite points skipped
  std::string color;                               // any SVG color; empty: taken from a fixed palette
  bool dashed = false;
};

// A horizontal line across the whole plot, e.g. the unquantized model's metric.
struct PlotReference {
  std::string name;
  double y = 0.0;
  std::string color = "#555555";
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log2_x = true;  // bits per weight spread over 2..32, so powers of two sit evenly apart
  int width = 760;
  int height = 440;
  std::optional<PlotReference> reference;
};

// The SVG document. Ticks on x sit at the data's distinct x values; ticks on y are "nice" numbers.
// The plot area is the <rect class="plot-area">; every marker and line vertex lies inside it.
// Throws std::invalid_argument when log2_x is set and some x <= 0, or the size is too small.
std::string render_line_plot(const PlotOptions& options, const std::vector<PlotSeries>& series);

// Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi] with about
// `target_count` ticks; the first tick is <= lo and the last >= hi (Heckbert, "Nice numbers for
// graph labels", Graphics Gems 1990). lo == hi gives ticks around that value.
std::vector<double> nice_ticks(double lo, double hi, int target_count);

// &, <, >, " and ' as entities, so any text can go into an element or an attribute.
std::string escape_xml(const std::string& text);

}  // namespace qforge::trainers
