// The study report: nice ticks, the SVG chart (parsed by Python's xml.etree, every point inside the
// plot area, log2 vs linear spacing), CSV quoting (read back by Python's csv module), the Markdown
// tables with their deltas and best cells, and atomic writes with errors that name the file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/temporaries.h"
#include "trainers/study/report_text.h"
#include "trainers/study/study_report.h"
#include "trainers/study/svg_plot.h"

namespace qforge::trainers {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the temp directory, removed when the test ends.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& tag)
      : path(fs::temp_directory_path() / ("qforge_study_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// Runs tests/trainers/study_report_check.py (an independent reader) on `file` and parses its JSON.
nlohmann::json python_check(const std::string& mode, const fs::path& file) {
  const std::string command = std::string(QFORGE_TORCH_PYTHON) + " " + QFORGE_SOURCE_DIR +
                              "/tests/trainers/study_report_check.py " + mode + " '" + file.string() + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[4096];
  while (size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  if (::pclose(pipe) != 0) throw std::runtime_error("check failed (invalid file?): " + command);
  return nlohmann::json::parse(output);
}

bool contains(const nlohmann::json& texts, const std::string& text) {
  for (const auto& t : texts) {
    if (t.get<std::string>() == text) return true;
  }
  return false;
}

TEST(NiceTicks, RoundStepsCoveringTheRange) {
  const std::vector<double> expected_a{0.80, 0.85, 0.90, 0.95};
  const std::vector<double> a = nice_ticks(0.8123, 0.9012, 5);
  ASSERT_EQ(a.size(), expected_a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], expected_a[i], 1e-12) << i;
  const std::vector<double> b = nice_ticks(0.0, 1.0, 6);  // step 0.2, bounds hit exactly: no extra tick
  ASSERT_EQ(b.size(), 6u);
  EXPECT_NEAR(b.back(), 1.0, 1e-12);
  const std::vector<double> c = nice_ticks(2.5, 2.5, 5);  // empty range widened by 5% each side
  ASSERT_EQ(c.size(), 5u);
  EXPECT_NEAR(c.front(), 2.3, 1e-12);
  EXPECT_NEAR(c.back(), 2.7, 1e-12);
  const std::vector<double> d = nice_ticks(120, 3, 4);  // reversed bounds
  EXPECT_NEAR(d.front(), 0.0, 1e-12);
  EXPECT_NEAR(d.back(), 150.0, 1e-12);
  EXPECT_THROW(nice_ticks(0, std::nan(""), 5), std::invalid_argument);
}

TEST(SvgPlot, EscapesText) {
  EXPECT_EQ(escape_xml("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
}

TEST(SvgPlot, ValidXmlWithEveryPointInsideThePlotArea) {
  PlotOptions options;
  options.title = "QAT vs PTQ <tiny> & \"friends\"";
  options.x_label = "bits per weight";
  options.y_label = "accuracy";
  options.reference = PlotReference{"FP32", 0.93};
  const std::vector<PlotSeries> series{
      {"QAT (minmax)", {{8, 0.92}, {2, 0.61}, {4, 0.90}}, "", false},
      {"PTQ <mse> & 'co'", {{2, 0.10}, {4, 0.85}, {8, 0.919}, {3, 0.5}}, "#ff0000", true},
      {"lonely", {{4, 0.7}, {8, std::nan("")}}, "", false}};
  const ScratchDir scratch("svg");
  const fs::path file = scratch.path / "plot.svg";
  write_text(file, render_line_plot(options, series));
  const nlohmann::json svg = python_check("svg", file);
  EXPECT_EQ(svg["polylines"].size(), 2u);  // "lonely" has one finite point: a marker, no line
  EXPECT_EQ(svg["dashed_polylines"], 1);
  EXPECT_EQ(svg["circles"].size(), 3u + 4u + 1u);
  EXPECT_EQ(svg["outside"], 0);
  EXPECT_TRUE(contains(svg["texts"], options.title));
  EXPECT_TRUE(contains(svg["texts"], "PTQ <mse> & 'co'"));
  EXPECT_TRUE(contains(svg["titles"], "PTQ <mse> & 'co'"));
  for (const char* tick : {"2", "3", "4", "8"}) EXPECT_TRUE(contains(svg["texts"], tick)) << tick;

  // QAT's polyline is sorted by x; a higher metric is drawn higher (smaller y) and the reference
  // line (0.93, above every point) sits above all of them.
  const auto& qat = svg["polylines"][0];
  ASSERT_EQ(qat.size(), 3u);
  EXPECT_LT(qat[0][0].get<double>(), qat[1][0].get<double>());
  EXPECT_LT(qat[1][0].get<double>(), qat[2][0].get<double>());
  EXPECT_GT(qat[0][1].get<double>(), qat[1][1].get<double>());  // 0.61 below 0.90
  ASSERT_EQ(svg["reference_y"].size(), 1u);
  EXPECT_TRUE(svg["reference_dashed"].get<bool>());
  for (const auto& c : svg["circles"]) EXPECT_LT(svg["reference_y"][0].get<double>(), c[1].get<double>());
  // log2 axis: 2, 4, 8 are equally far apart.
  const double gap_low = qat[1][0].get<double>() - qat[0][0].get<double>();
  const double gap_high = qat[2][0].get<double>() - qat[1][0].get<double>();
  EXPECT_NEAR(gap_low, gap_high, 0.02);
  EXPECT_GT(gap_low, 100.0);
}

TEST(SvgPlot, LinearAxisSpacingAndBadLogInput) {
  PlotOptions options;
  options.log2_x = false;
  const ScratchDir scratch("svg_linear");
  const fs::path file = scratch.path / "plot.svg";
  write_text(file, render_line_plot(options, {{"s", {{2, 1.0}, {4, 2.0}, {8, 3.0}}, "", false}}));
  const nlohmann::json svg = python_check("svg", file);
  ASSERT_EQ(svg["polylines"].size(), 1u);
  const auto& line = svg["polylines"][0];
  const double gap_low = line[1][0].get<double>() - line[0][0].get<double>();
  const double gap_high = line[2][0].get<double>() - line[1][0].get<double>();
  EXPECT_NEAR(gap_high / gap_low, 2.0, 1e-3);
  EXPECT_EQ(svg["outside"], 0);

  options.log2_x = true;
  try {
    render_line_plot(options, {{"zero bits", {{0, 1.0}}, "", false}});
    FAIL() << "log2 axis accepted x = 0";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("zero bits"), std::string::npos) << e.what();
  }
}

StudyResult cell(std::string scheme, std::string method, std::string observer, double bits, double metric) {
  return StudyResult{std::move(scheme), std::move(method), std::move(observer), bits, metric, 1.0 - metric,
                     metric, 2.5, "runs/x"};
}

// fp32 0.9; int8: PTQ minmax/mse, QAT minmax/mse; int4:g32: PTQ minmax/mse/percentile, QAT minmax/mse.
std::vector<StudyResult> accuracy_grid() {
  return {cell("fp32", "fp32", "", 32, 0.9),           cell("int8", "ptq", "minmax", 8, 0.895),
          cell("int8", "ptq", "mse", 8, 0.897),          cell("int8", "qat", "minmax", 8, 0.899),
          cell("int8", "qat", "mse", 8, 0.896),          cell("int4:g32", "ptq", "minmax", 4.5, 0.70),
          cell("int4:g32", "ptq", "mse", 4.5, 0.80),     cell("int4:g32", "qat", "minmax", 4.5, 0.88),
          cell("int4:g32", "qat", "mse", 4.5, 0.875),    cell("int4:g32", "ptq", "percentile", 4.5, 0.75)};
}

TEST(StudyCsv, QuotesCommasQuotesAndNewlines) {
  EXPECT_EQ(csv_field("plain"), "plain");
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");

  StudyResult tricky = cell("int4:g32,asym", "ptq", "say \"mse\"", 4.5, 0.1 + 0.2);
  tricky.accuracy.reset();
  tricky.run_dir = "runs/a\nb";
  tricky.seed = 7;
  const std::string csv = study_results_csv({accuracy_grid()[0], tricky});
  const std::string expected =
      "scheme,method,observer,bits_per_weight,metric,loss,accuracy,seconds,run_dir,seed\n"
      "fp32,fp32,,32,0.9,0.09999999999999998,0.9,2.5,runs/x,\n"
      "\"int4:g32,asym\",ptq,\"say \"\"mse\"\"\",4.5,0.30000000000000004,0.7,,2.5,\"runs/a\nb\",7\n";
  EXPECT_EQ(csv, expected);

  const ScratchDir scratch("csv");
  const fs::path file = scratch.path / "results.csv";
  write_text(file, csv);
  const nlohmann::json rows = python_check("csv", file);
  ASSERT_EQ(rows.size(), 3u);
  ASSERT_EQ(rows[2].size(), 10u);
  EXPECT_EQ(rows[2][0], "int4:g32,asym");
  EXPECT_EQ(rows[2][2], "say \"mse\"");
  EXPECT_EQ(std::stod(rows[2][4].get<std::string>()), 0.1 + 0.2);  // shortest round-trip text is exact
  EXPECT_EQ(rows[2][6], "");
  EXPECT_EQ(rows[2][8], "runs/a\nb");
  EXPECT_EQ(rows[2][9], "7");
}

void expect_line(const std::string& text, const std::string& line) {
  EXPECT_NE(text.find("\n" + line + "\n"), std::string::npos) << "missing line:\n" << line << "\nin:\n" << text;
}

TEST(StudyMarkdown, TablesDeltasAndBestCells) {
  StudyReportOptions options{"Tiny MLP study", "accuracy", true, "model { hidden: 32 }\n", "qforge study --config s.pbtxt"};
  const std::string md = study_report_markdown(accuracy_grid(), options);
  EXPECT_EQ(md.rfind("# Tiny MLP study\n", 0), 0u);
  expect_line(md, "qforge study --config s.pbtxt");
  expect_line(md, "![accuracy against bits per weight](plot.svg)");
  expect_line(md, "### int8 (8 bits/weight)");
  expect_line(md, "| observer | FP32 | PTQ | Δ PTQ | QAT | Δ QAT |");
  expect_line(md, "| minmax | 0.9000 | 0.8950 | -0.0050 | **0.8990** | -0.0010 |");
  expect_line(md, "| mse | 0.9000 | 0.8970 | -0.0030 | 0.8960 | -0.0040 |");
  expect_line(md, "### int4:g32 (4.5 bits/weight)");
  expect_line(md, "| minmax | 0.9000 | 0.7000 | -0.2000 | **0.8800** | -0.0200 |");
  expect_line(md, "| mse | 0.9000 | 0.8000 | -0.1000 | 0.8750 | -0.0250 |");
  expect_line(md, "| percentile | 0.9000 | 0.7500 | -0.1500 | — | — |");
  expect_line(md, "| int8 | 8 | QAT (minmax) | 0.8990 | -0.0010 |");
  expect_line(md, "| int4:g32 | 4.5 | QAT (minmax) | 0.8800 | -0.0200 |");
  expect_line(md, "Best quantized cell: QAT (minmax) on int8, 0.8990 (-0.0010 vs FP32).");
  expect_line(md, "QAT beats PTQ in 3 of 4 pairs with the same scheme and observer.");
  expect_line(md, "model { hidden: 32 }");
  EXPECT_NE(md.find("10 cells, total wall time 25.0 s."), std::string::npos);
  EXPECT_LT(md.find("### int8"), md.find("### int4:g32"));  // schemes keep the grid's order
}

TEST(StudyMarkdown, LowerIsBetterAndPerSchemeBaseline) {
  StudyReportOptions options{"LM study", "validation loss", false, "a ``` fence\n", ""};
  const std::vector<StudyResult> results{cell("fp32", "fp32", "", 32, 3.0), cell("int4", "fp32", "", 32, 1.0),
                                         cell("int4", "ptq", "minmax", 4, 1.5), cell("int4", "qat", "minmax", 4, 1.2)};
  const std::string md = study_report_markdown(results, options);
  expect_line(md, "| minmax | 1.0000 | 1.5000 | +0.5000 | **1.2000** | +0.2000 |");
  expect_line(md, "QAT beats PTQ in 1 of 1 pairs with the same scheme and observer.");
  expect_line(md, "````text");  // the fence outgrows the config's own ```
  EXPECT_EQ(md.find("Command:"), std::string::npos);
}

TEST(StudyMarkdown, FloatControlAndPostTrainingMethods) {
  // QAT's gap over the FP32 control; registry methods (gptq) as columns of their own.
  StudyReportOptions options{"LM study", "validation loss", false, "", ""};
  const std::vector<StudyResult> results{cell("fp32", "fp32", "", 32, 1.60),         cell("fp32", "fp32_control", "", 32, 1.55),
                                         cell("int3", "ptq", "minmax", 3, 1.70),      cell("int3", "gptq", "minmax", 3, 1.62),
                                         cell("int3", "qat", "minmax", 3, 1.58)};
  const std::string md = study_report_markdown(results, options);
  expect_line(md, "| observer | FP32 | PTQ | Δ PTQ | QAT | Δ QAT | GPTQ | Δ GPTQ | Δ QAT vs control |");
  expect_line(md, "| minmax | 1.6000 | 1.7000 | +0.1000 | **1.5800** | -0.0200 | 1.6200 | +0.0200 | +0.0300 |");
  expect_line(md, "FP32 control (the float run trained for QAT's extra steps at QAT's learning rate): 1.5500 (-0.0500 vs FP32). "
                  "Part of QAT's gain over FP32 is this extra training; the \"Δ QAT vs control\" columns take it out.");
  expect_line(md, "| int3 | 3 | QAT (minmax) | 1.5800 | -0.0200 |");  // the control is a baseline, not a cell
}

TEST(StudyMarkdown, PostTrainingOnTheControlAndTheRatioOfGaps) {
  // GPTQ run on the control: its Δ is over the control (1.55), and QAT's best gap over the control
  // (qat:seq 1.56, +0.01) is stated as a ratio of GPTQ's (+0.04).
  StudyReportOptions options{"LM study", "validation loss", false, "", ""};
  const std::vector<StudyResult> results{cell("fp32", "fp32", "", 32, 1.60),        cell("fp32", "fp32_control", "", 32, 1.55),
                                         cell("int2", "gptq", "minmax", 2, 1.64),    cell("int2", "qat", "minmax", 2, 1.58),
                                         cell("int2", "qat:seq", "minmax", 2, 1.56), cell("int2", "gptq on control", "minmax", 2, 1.59)};
  const std::string md = study_report_markdown(results, options);
  expect_line(md, "| observer | FP32 | QAT | Δ QAT | GPTQ | Δ GPTQ | QAT:SEQ | Δ QAT:SEQ | GPTQ ON CONTROL | "
                  "Δ GPTQ ON CONTROL vs control | Δ QAT vs control | Δ QAT:SEQ vs control |");
  expect_line(md, "| minmax | 1.6000 | 1.5800 | -0.0200 | 1.6400 | +0.0400 | **1.5600** | -0.0400 | 1.5900 | +0.0400 | +0.0300 | +0.0100 |");
  expect_line(md, "On int2, the best QAT cell QAT:SEQ is +0.0100 over the FP32 control, 0.25x the gap of GPTQ ON CONTROL (+0.0400).");
}

StudyResult seeded(StudyResult r, uint64_t seed) {
  r.seed = seed;
  return r;
}

TEST(StudyMarkdown, SeedsAsMeanAndSdAndMethodsWithTheirOwnBits) {
  StudyReportOptions options{"LM study", "validation loss", false, "", ""};
  const std::vector<StudyResult> results{
      cell("fp32", "fp32", "", 32, 1.60),
      seeded(cell("fp32", "fp32_control", "", 32, 1.55), 1), seeded(cell("fp32", "fp32_control", "", 32, 1.56), 2),
      seeded(cell("fp32", "fp32_control", "", 32, 1.57), 3),
      seeded(cell("int3", "gptq", "minmax", 3, 1.62), 1), seeded(cell("int3", "gptq+qat:lsq", "minmax", 3, 1.57), 1),
      seeded(cell("int3", "gptq", "minmax", 3, 1.64), 2), seeded(cell("int3", "gptq+qat:lsq", "minmax", 3, 1.59), 2),
      cell("int3", "spqr", "minmax", 3.94, 1.61)};
  const std::string md = study_report_markdown(results, options);
  EXPECT_NE(md.find("5 cells, total wall time 22.5 s. Cells repeated over seeds (9 runs) show mean ± sample sd (n)"),
            std::string::npos) << md;
  expect_line(md, "### int3");  // its columns count different bits
  expect_line(md, "| observer | FP32 | GPTQ (3 bits) | Δ GPTQ | GPTQ+QAT:LSQ (3 bits) | Δ GPTQ+QAT:LSQ | SPQR (3.94 bits) | "
                  "Δ SPQR | Δ GPTQ+QAT:LSQ vs control |");
  // sd of {1.62, 1.64} = 0.01 sqrt(2); the control's of {1.55, 1.56, 1.57} = 0.01.
  expect_line(md, "| minmax | 1.6000 | 1.6300 ± 0.0141 (n=2) | +0.0300 | **1.5800 ± 0.0141 (n=2)** | -0.0200 | 1.6100 | "
                  "+0.0100 | +0.0200 |");
  EXPECT_NE(md.find("FP32 control (the float run trained for QAT's extra steps at QAT's learning rate): 1.5600 ± 0.0100 (n=3)"),
            std::string::npos) << md;

  // The same seed twice is not noise: it stays a row of its own.
  const std::vector<StudyResult> twice = aggregate_seeds({seeded(cell("int3", "qat", "minmax", 3, 1.5), 1),
                                                          seeded(cell("int3", "qat", "minmax", 3, 1.7), 1),
                                                          seeded(cell("int3", "qat", "minmax", 4, 1.6), 2)});
  ASSERT_EQ(twice.size(), 2u);
  EXPECT_DOUBLE_EQ(twice[0].metric, 1.55);
  EXPECT_DOUBLE_EQ(twice[0].bits_per_weight, 3.5);  // SpQR's bits vary with its outliers
  EXPECT_DOUBLE_EQ(twice[0].seconds, 5.0);
  EXPECT_EQ(twice[0].runs, 2);
  EXPECT_DOUBLE_EQ(twice[1].metric, 1.7);
  EXPECT_EQ(twice[1].runs, 1);
}

TEST(StudyReport, WritesAllFilesAtomically) {
  const ScratchDir scratch("report");
  const fs::path dir = scratch.path / "nested";
  StudyReportOptions options{"Grid <1>", "accuracy", true, "x: 1", "qforge study"};
  write_study_report(dir.string(), accuracy_grid(), options);
  write_study_report(dir.string(), accuracy_grid(), options);  // replaces the previous report
  for (const char* name : {"results.csv", "report.md", "plot.svg"}) {
    EXPECT_TRUE(fs::is_regular_file(dir / name)) << name;
    EXPECT_THAT(qforge::testing::temporaries_of(dir / name), ::testing::IsEmpty()) << name;
  }
  EXPECT_EQ(python_check("csv", dir / "results.csv").size(), 11u);
  const nlohmann::json svg = python_check("svg", dir / "plot.svg");
  // Series PTQ minmax/mse/percentile (dashed) and QAT minmax/mse; PTQ percentile is one point, no line.
  EXPECT_EQ(svg["polylines"].size(), 4u);
  EXPECT_EQ(svg["dashed_polylines"], 2);
  EXPECT_EQ(svg["circles"].size(), 9u);  // every quantized cell; FP32 is the reference line
  EXPECT_EQ(svg["outside"], 0);
  EXPECT_TRUE(contains(svg["texts"], "FP32 (0.9000)"));
  EXPECT_TRUE(contains(svg["texts"], "PTQ (percentile)"));
  EXPECT_EQ(read_text(dir / "report.md"), study_report_markdown(accuracy_grid(), options));
}

TEST(StudyReport, ErrorsNameTheFile) {
  const ScratchDir scratch("report_error");
  const fs::path dir = scratch.path;
  fs::create_directories(dir / "results.csv" / "occupied");  // a folder where the CSV should go
  try {
    write_study_report(dir.string(), accuracy_grid(), {});
    FAIL() << "wrote over a folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "results.csv").string()), std::string::npos) << e.what();
  }
  EXPECT_THAT(qforge::testing::temporaries_of(dir / "results.csv"), ::testing::IsEmpty());

  write_text(dir / "plain_file", "x");
  try {
    write_study_report((dir / "plain_file" / "sub").string(), accuracy_grid(), {});
    FAIL() << "created a folder inside a file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("plain_file/sub"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_study_report(dir.string(), {}, {}), std::invalid_argument);
}

}  // namespace
}  // namespace qforge::trainers
