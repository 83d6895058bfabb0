#include "trainers/study/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace qforge::trainers {
namespace {

// Margins around the plot area in pixels; the legend lives in the right margin so it never hides data.
constexpr double kMarginLeft = 72, kMarginRight = 200, kMarginTop = 44, kMarginBottom = 56;
constexpr double kMarkerRadius = 3.5;
constexpr double kMinLabelGap = 30;  // pixels between x tick labels; closer ticks stay unlabeled
// Colorblind-safe qualitative palette (Okabe & Ito, "Color Universal Design", 2008).
const char* const kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};

std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

// Tick labels share one number of decimals, enough to tell neighbours `step` apart (0.05 -> 2).
std::string format_tick(double value, double step) {
  const int decimals = step > 0 ? std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 8) : 4;
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value == 0 ? 0.0 : value);  // no "-0.00"
  return buffer;
}

std::string format_pixel(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return buffer;
}

// Maps a data interval onto a pixel interval; pixel_lo may be greater than pixel_hi (y grows downward).
struct AxisMap {
  double domain_lo = 0, domain_hi = 1, pixel_lo = 0, pixel_hi = 1;
  bool log2 = false;

  double transform(double v) const { return log2 ? std::log2(v) : v; }
  double operator()(double v) const {
    return pixel_lo + (transform(v) - domain_lo) / (domain_hi - domain_lo) * (pixel_hi - pixel_lo);
  }
};

// Widens [lo, hi] by `fraction` of its span on both sides (by 1 when the span is empty), so
// markers at the extremes are not drawn on the border of the plot area.
std::pair<double, double> padded(double lo, double hi, double fraction) {
  const double pad = hi > lo ? (hi - lo) * fraction : 1.0;
  return {lo - pad, hi + pad};
}

struct Layout {
  double left, top, right, bottom;
  AxisMap x, y;
  std::vector<double> x_ticks, y_ticks;
};

Layout compute_layout(const PlotOptions& options, const std::vector<PlotSeries>& series) {
  if (options.width < kMarginLeft + kMarginRight + 100 || options.height < kMarginTop + kMarginBottom + 100) {
    throw std::invalid_argument("render_line_plot: size " + std::to_string(options.width) + "x" +
                                std::to_string(options.height) + " leaves no room for the plot area");
  }
  Layout layout{kMarginLeft, kMarginTop, options.width - kMarginRight, options.height - kMarginBottom, {}, {}, {}, {}};
  std::vector<double> ys;
  for (const PlotSeries& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      if (options.log2_x && x <= 0) {
        throw std::invalid_argument("render_line_plot: series '" + s.name + "' has x = " + format_number(x) +
                                    ", a log2 axis needs x > 0");
      }
      layout.x_ticks.push_back(x);
      ys.push_back(y);
    }
  }
  if (options.reference && std::isfinite(options.reference->y)) ys.push_back(options.reference->y);
  std::sort(layout.x_ticks.begin(), layout.x_ticks.end());
  layout.x_ticks.erase(std::unique(layout.x_ticks.begin(), layout.x_ticks.end()), layout.x_ticks.end());

  layout.x.log2 = options.log2_x;
  double x_lo = 0, x_hi = 1;
  if (!layout.x_ticks.empty()) {
    std::tie(x_lo, x_hi) = padded(layout.x.transform(layout.x_ticks.front()),
                                  layout.x.transform(layout.x_ticks.back()), 0.06);
  }
  layout.x.domain_lo = x_lo, layout.x.domain_hi = x_hi;
  layout.x.pixel_lo = layout.left, layout.x.pixel_hi = layout.right;

  const auto [y_min, y_max] = ys.empty() ? std::pair{0.0, 1.0} : std::pair{*std::min_element(ys.begin(), ys.end()),
                                                                             *std::max_element(ys.begin(), ys.end())};
  layout.y_ticks = nice_ticks(y_min, y_max, 6);
  std::tie(layout.y.domain_lo, layout.y.domain_hi) = padded(layout.y_ticks.front(), layout.y_ticks.back(), 0.03);
  layout.y.pixel_lo = layout.bottom, layout.y.pixel_hi = layout.top;
  return layout;
}

void append_axes(std::ostringstream& svg, const PlotOptions& options, const Layout& layout) {
  svg << "<rect class=\"plot-area\" x=\"" << layout.left << "\" y=\"" << layout.top << "\" width=\""
      << layout.right - layout.left << "\" height=\"" << layout.bottom - layout.top
      << "\" fill=\"#fcfcfc\" stroke=\"#888888\"/>\n";
  const double y_step = layout.y_ticks.size() >= 2 ? layout.y_ticks[1] - layout.y_ticks[0] : 0.0;
  for (double tick : layout.y_ticks) {
    const std::string y = format_pixel(layout.y(tick));
    svg << "<line class=\"grid\" x1=\"" << layout.left << "\" y1=\"" << y << "\" x2=\"" << layout.right
        << "\" y2=\"" << y << "\" stroke=\"#e4e4e4\"/>\n"
        << "<text x=\"" << layout.left - 6 << "\" y=\"" << y << "\" text-anchor=\"end\" dominant-baseline=\"middle\">"
        << escape_xml(format_tick(tick, y_step)) << "</text>\n";
  }
  double last_label_x = -1e9;
  for (double tick : layout.x_ticks) {
    const double px = layout.x(tick);
    const std::string x = format_pixel(px);
    svg << "<line class=\"grid\" x1=\"" << x << "\" y1=\"" << layout.top << "\" x2=\"" << x << "\" y2=\""
        << layout.bottom << "\" stroke=\"#e4e4e4\"/>\n";
    if (px - last_label_x < kMinLabelGap) continue;
    last_label_x = px;
    svg << "<text x=\"" << x << "\" y=\"" << layout.bottom + 18 << "\" text-anchor=\"middle\">"
        << escape_xml(format_number(tick)) << "</text>\n";
  }
  const double center_x = (layout.left + layout.right) / 2, center_y = (layout.top + layout.bottom) / 2;
  svg << "<text x=\"" << center_x << "\" y=\"" << options.height - 14 << "\" text-anchor=\"middle\">"
      << escape_xml(options.x_label) << "</text>\n"
      << "<text x=\"18\" y=\"" << center_y << "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " << center_y
      << ")\">" << escape_xml(options.y_label) << "</text>\n"
      << "<text x=\"" << options.width / 2.0 << "\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" "
      << "font-weight=\"bold\">" << escape_xml(options.title) << "</text>\n";
}

std::string stroke_attributes(const std::string& color, bool dashed) {
  return "stroke=\"" + escape_xml(color) + "\" stroke-width=\"2\"" + (dashed ? " stroke-dasharray=\"6 4\"" : "");
}

void append_series(std::ostringstream& svg, const PlotSeries& s, const std::string& color, const Layout& layout) {
  std::vector<std::pair<double, double>> points;
  for (const auto& p : s.points) {
    if (std::isfinite(p.first) && std::isfinite(p.second)) points.push_back(p);  // a diverged run has no point
  }
  std::sort(points.begin(), points.end());
  svg << "<g class=\"series\"><title>" << escape_xml(s.name) << "</title>\n";
  if (points.size() >= 2) {
    svg << "<polyline fill=\"none\" " << stroke_attributes(color, s.dashed) << " points=\"";
    for (size_t i = 0; i < points.size(); ++i) {
      svg << (i ? " " : "") << format_pixel(layout.x(points[i].first)) << ","
          << format_pixel(layout.y(points[i].second));
    }
    svg << "\"/>\n";
  }
  for (const auto& [x, y] : points) {
    svg << "<circle cx=\"" << format_pixel(layout.x(x)) << "\" cy=\"" << format_pixel(layout.y(y)) << "\" r=\""
        << kMarkerRadius << "\" fill=\"" << escape_xml(color) << "\"/>\n";
  }
  svg << "</g>\n";
}

// One row per series: a short line in the series' style (no marker, so the only circles in the
// document are data points) followed by its name.
void append_legend_entry(std::ostringstream& svg, double x, double y, const std::string& name,
                         const std::string& color, bool dashed) {
  svg << "<line x1=\"" << x << "\" y1=\"" << y << "\" x2=\"" << x + 26 << "\" y2=\"" << y << "\" "
      << stroke_attributes(color, dashed) << "/>\n"
      << "<text x=\"" << x + 32 << "\" y=\"" << y << "\" dominant-baseline=\"middle\">" << escape_xml(name)
      << "</text>\n";
}

std::string series_color(const PlotSeries& s, size_t index) {
  return s.color.empty() ? kPalette[index % std::size(kPalette)] : s.color;
}

}  // namespace

std::string escape_xml(const std::string& text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&apos;"; break;
      default: escaped += c;
    }
  }
  return escaped;
}

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    throw std::invalid_argument("nice_ticks: range [" + format_number(lo) + ", " + format_number(hi) +
                                "] is not finite");
  }
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    const double half = lo == 0 ? 1.0 : std::abs(lo) * 0.05;
    lo -= half, hi += half;
  }
  const double raw_step = (hi - lo) / std::max(1, target_count - 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw_step)));
  const double fraction = raw_step / magnitude;
  const double step = (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
  // The 1e-9 keeps a bound that is already a multiple of step (0.8 / 0.05 = 16.000000000000004)
  // from gaining an extra tick through rounding.
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last; ++k) ticks.push_back(k * step);
  return ticks;
}

std::string render_line_plot(const PlotOptions& options, const std::vector<PlotSeries>& series) {
  const Layout layout = compute_layout(options, series);
  std::ostringstream svg;
  svg << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << options.width << "\" height=\"" << options.height
      << "\" viewBox=\"0 0 " << options.width << " " << options.height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  append_axes(svg, options, layout);
  const double legend_x = layout.right + 16;
  double legend_y = layout.top + 10;
  if (options.reference && std::isfinite(options.reference->y)) {
    const PlotReference& ref = *options.reference;
    const std::string y = format_pixel(layout.y(ref.y));
    svg << "<line class=\"reference\" x1=\"" << layout.left << "\" y1=\"" << y << "\" x2=\"" << layout.right
        << "\" y2=\"" << y << "\" " << stroke_attributes(ref.color, true) << "/>\n";
    append_legend_entry(svg, legend_x, legend_y, ref.name, ref.color, true);
    legend_y += 20;
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const std::string color = series_color(series[i], i);
    append_series(svg, series[i], color, layout);
    append_legend_entry(svg, legend_x, legend_y, series[i].name, color, series[i].dashed);
    legend_y += 20;
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace qforge::trainers
