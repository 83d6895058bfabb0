#pragma once
// The options of a method string ("gptq:damp=0.02,act_order" -> "damp=0.02,act_order"): comma-separated
// items, each a flag ("act_order") or key=value ("damp=0.02"). One parser for every method of
// ptq/registry.cpp and of the GGUF export methods, so they split, convert and refuse the same way.
#include <functional>
#include <string>

namespace qforge::ptq {

// Calls apply(key, value) for each item in order (value empty for a flag). apply returns false for an
// item it does not take; that, or a conversion it throws on (std::stod ...), becomes
// std::invalid_argument "<who>: option '<item>' is not one of <accepted>".
using ApplyOption = std::function<bool(const std::string& key, const std::string& value)>;
void parse_method_options(const std::string& text, const std::string& who, const std::string& accepted,
                          const ApplyOption& apply);

// Number conversions that take the whole value or throw (so "damp=0.01x" is refused, not read as 0.01).
double option_double(const std::string& value);
long long option_integer(const std::string& value);

}  // namespace qforge::ptq
