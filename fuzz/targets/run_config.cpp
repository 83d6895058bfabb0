// A run config in protobuf text format (trainers/run_config.h parse_run_config, `--config FILE`) and
// the checks `qforge train` makes of its numbers before anything runs (check_training_numbers).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.h"
#include "trainers/optimizer_factory.h"
#include "trainers/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tr = qforge::trainers;
  const char* source = "fuzz-input.pbtxt";
  qforge::fuzz::expect_clean(source, [&] {
    const auto config = tr::parse_run_config(std::string(reinterpret_cast<const char*>(data), size), source);
    // check_training_numbers names the field, not the file (the CLI adds that): any message will do.
    qforge::fuzz::expect_usable(source, [&] { tr::check_training_numbers(config); });
    tr::to_text(config);
  });
  return 0;
}
