// Provenance helper of make.sh (not part of the build): prints the FNV-1a 64 hash of each IQ grid and
// sign table of llama.cpp's ggml-common.h (the constants its dequantize_row_iq* read), as the bytes of
// the table in memory on a little-endian machine, so tests/fakequant/test_ggml_iq_grids.cpp can check
// qforge's grids (fakequant/formats/ggml/iq_grids.cpp) entry for entry without committing llama.cpp's
// tables. Line format: <table> <entries> <hash hex>.
// usage: grid_fnv (built by make.sh against build/llamacpp-tools/src/ggml/src/ggml-common.h)
#include <inttypes.h>
#include <stdio.h>

#define GGML_COMMON_DECL_C
#define GGML_COMMON_IMPL_C
#include "ggml-common.h"

static uint64_t fnv1a(const void* data, size_t n) {
  const unsigned char* p = (const unsigned char*)data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

#define PRINT(table) \
  printf("%s %zu %016" PRIx64 "\n", #table, sizeof(table) / sizeof(table[0]), fnv1a(table, sizeof(table)))

int main(void) {
  PRINT(iq2xxs_grid);
  PRINT(iq2xs_grid);
  PRINT(iq2s_grid);
  PRINT(iq3xxs_grid);
  PRINT(iq3s_grid);
  PRINT(iq1s_grid);
  PRINT(ksigns_iq2xs);
  PRINT(kmask_iq2xs);
  return 0;
}
