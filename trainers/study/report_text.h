#pragma once
// Text pieces every study output shares (study_report.cpp, budget_split.cpp, study.cpp): numbers for
// Markdown and CSV, CSV quoting, and the folder name of a cell.
#include <string>

namespace qforge::trainers {

// `value` through a printf format ("%.4f", "%+.4f", "%g"), for tables.
std::string printf_number(const char* format, double value);

// Shortest text that parses back to the same double (std::to_chars), so a CSV loses nothing; "nan"
// for what to_chars cannot write.
std::string exact_number(double value);

// One CSV field: quoted (with inner quotes doubled) when it holds a comma, quote, CR or LF (RFC 4180 §2).
std::string csv_field(const std::string& text);

// A cell's name as a folder name: ':', '/', ' ', '=', ',' and '@' (method options, schemes) become '-'.
std::string folder_safe(std::string name);

}  // namespace qforge::trainers
