// Provenance of ggml_iq_reference_blocks.txt (not part of the build): llama.cpp's own quantizers, as
// llama-quantize links them (libggml-base.a of build/llamacpp-tools, built without -march=native and so
// without FMA contraction), on the row of tests/fakequant/ggml_golden_row.h (512 values incl. an all-zero
// block of 32 at 288..319) with and without its importance vector, through ggml_quantize_chunk (which
// builds the IQ grids' neighbour lists via ggml_quantize_init). Types that llama.cpp refuses to quantize
// without an importance matrix (IQ2_XXS, IQ2_XS, IQ1_S) have only the imatrix line.
// usage: cc -O2 -I$SRC/ggml/include ggml_iq_reference_blocks.c $BUILD/ggml/src/libggml-base.a -lstdc++ -lm
//        -lpthread -fopenmp -o /tmp/ref && /tmp/ref > ggml_iq_reference_blocks.txt
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ggml.h"

static uint32_t lcg(uint32_t* state) {
  *state = *state * 1664525u + 1013904223u;
  return *state >> 8;
}

int main(void) {
  enum { k = 512 };
  static float x[k], w[k];
  uint32_t s = 12345;
  for (int i = 0; i < k; ++i) {
    const int v = (int)(lcg(&s) % 20001) - 10000;
    const int outlier = lcg(&s) % 64 == 0;
    x[i] = (float)v / 8192.f * (outlier ? 8.f : 1.f);
    if (i >= 288 && i < 320) x[i] = 0.f;
  }
  s = 777;
  for (int i = 0; i < k; ++i) w[i] = i % 37 == 0 ? 100.f : (float)(1 + lcg(&s) % 5);
  const enum ggml_type types[] = {GGML_TYPE_IQ4_XS, GGML_TYPE_TQ1_0, GGML_TYPE_TQ2_0, GGML_TYPE_IQ2_XXS,
                                  GGML_TYPE_IQ2_XS, GGML_TYPE_IQ2_S, GGML_TYPE_IQ3_XXS, GGML_TYPE_IQ3_S,
                                  GGML_TYPE_IQ1_S, GGML_TYPE_IQ1_M};
  printf("# llama.cpp's own quantizers (libggml-base.a of build/llamacpp-tools, llama_quantize/llama_cpp_version.txt)\n");
  printf("# on tests/fakequant/ggml_golden_row.h; made by ggml_iq_reference_blocks.c; format: type path hex.\n");
  for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); ++t) {
    const size_t bytes = ggml_row_size(types[t], k);
    unsigned char* out = malloc(bytes);
    for (int with = 0; with < 2; ++with) {
      if (!with && ggml_quantize_requires_imatrix(types[t])) continue;
      ggml_quantize_chunk(types[t], x, out, 0, 1, k, with ? w : NULL);
      printf("%s %s ", ggml_type_name(types[t]), with ? "imatrix" : "plain");
      for (size_t b = 0; b < bytes; ++b) printf("%02x", out[b]);
      printf("\n");
    }
    free(out);
  }
  ggml_quantize_free();
  return 0;
}
