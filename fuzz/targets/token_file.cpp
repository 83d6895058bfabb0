// Pre-tokenized corpora (data/token_file.h read_token_file): the file read as `.bin` (an llm.c header
// when it starts with one, else nanoGPT's flat uint16), then in every explicit format.
#include <cstddef>
#include <cstdint>

#include "data/token_file.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = qforge::fuzz;
  namespace dt = qforge::data;
  const auto path = fz::write_scratch("tokens.bin", {data, size}).string();
  for (dt::TokenFormat format : {dt::TokenFormat::kAuto, dt::TokenFormat::kUint16, dt::TokenFormat::kUint32,
                                 dt::TokenFormat::kLlmcUint16, dt::TokenFormat::kLlmcUint32}) {
    fz::expect_clean(path, [&] { dt::read_token_file(path, format); });
  }
  return 0;
}
