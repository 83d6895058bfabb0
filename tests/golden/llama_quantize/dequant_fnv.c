// Provenance helper of make.sh (not part of the build): prints, for every tensor of a GGUF file, the
// FNV-1a 64 hash of llama.cpp's own dequantization of it (ggml_get_type_traits(type)->to_float, i.e.
// ggml-quants.c's dequantize_row_<type> as linked into llama-quantize; F32 as stored), so
// tests/exporters/test_llama_quantize_golden.cpp can check qforge's decoders bit for bit without
// committing the floats. Line format: <file> <tensor> <ggml type name> <elements> <hash hex>.
// usage: dequant_fnv FILE.gguf...
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "gguf.h"

static uint64_t fnv1a(const void* data, size_t n, uint64_t h) {
  const unsigned char* p = (const unsigned char*)data;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

int main(int argc, char** argv) {
  for (int f = 1; f < argc; ++f) {
    struct ggml_context* ctx = NULL;
    struct gguf_init_params params = {false, &ctx};
    struct gguf_context* gguf = gguf_init_from_file(argv[f], params);
    if (!gguf) { fprintf(stderr, "cannot read %s\n", argv[f]); return 1; }
    const char* base = strrchr(argv[f], '/') ? strrchr(argv[f], '/') + 1 : argv[f];
    for (int64_t t = 0; t < gguf_get_n_tensors(gguf); ++t) {
      struct ggml_tensor* tensor = ggml_get_tensor(ctx, gguf_get_tensor_name(gguf, t));
      const int64_t n = ggml_nelements(tensor);
      float* out = malloc((size_t)n * sizeof(float));
      if (tensor->type == GGML_TYPE_F32) {
        memcpy(out, tensor->data, (size_t)n * sizeof(float));
      } else {
        ggml_get_type_traits(tensor->type)->to_float(tensor->data, out, n);
      }
      printf("%s %s %s %" PRId64 " %016" PRIx64 "\n", base, tensor->name, ggml_type_name(tensor->type), n,
             fnv1a(out, (size_t)n * sizeof(float), 0xcbf29ce484222325ull));
      free(out);
    }
    gguf_free(gguf);
    ggml_free(ctx);
  }
  return 0;
}
