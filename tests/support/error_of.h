#pragma once
// The message of the std::invalid_argument a call throws, for asserting error texts with
// HasSubstr; a marker string when it throws nothing.
#include <stdexcept>
#include <string>

namespace qforge::testing {

template <class F>
std::string error_of(F call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no std::invalid_argument thrown>";
}

}  // namespace qforge::testing
