#include "ptq/method_options.h"

#include <stdexcept>

namespace qforge::ptq {

void parse_method_options(const std::string& text, const std::string& who, const std::string& accepted,
                          const ApplyOption& apply) {
  size_t start = 0;
  while (start < text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    start = comma + 1;
    const size_t equals = item.find('=');
    const std::string key = item.substr(0, equals), value = equals == std::string::npos ? "" : item.substr(equals + 1);
    bool taken = false;
    try {
      taken = (equals == std::string::npos || !value.empty()) && apply(key, value);
    } catch (const std::exception&) {
      taken = false;
    }
    if (!taken) throw std::invalid_argument(who + ": option '" + item + "' is not one of " + accepted);
  }
}

double option_double(const std::string& value) {
  size_t used = 0;
  const double v = std::stod(value, &used);
  if (used != value.size()) throw std::invalid_argument("trailing characters");
  return v;
}

long long option_integer(const std::string& value) {
  size_t used = 0;
  const long long v = std::stoll(value, &used);
  if (used != value.size()) throw std::invalid_argument("trailing characters");
  return v;
}

}  // namespace qforge::ptq
