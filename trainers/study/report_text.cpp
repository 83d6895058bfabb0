#include "trainers/study/report_text.h"

#include <charconv>
#include <cstdio>

namespace qforge::trainers {

std::string printf_number(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

std::string exact_number(double value) {
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return error == std::errc() ? std::string(buffer, end) : "nan";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

std::string folder_safe(std::string name) {
  for (char& c : name) {
    if (c == ':' || c == '/' || c == ' ' || c == '=' || c == ',' || c == '@') c = '-';
  }
  return name;
}

}  // namespace qforge::trainers
