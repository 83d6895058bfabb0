// Decode throughput of the ggml block types a Q4_K_M, Q3_K_M or IQ2_XS base holds its projections in,
// scalar reference (dequantize_row_<type>_ref) against the AVX-512 fast path (dequantize_row_<type>), beside
// NF4 (blockwise 4-bit with double quantization, the QLoRA base): one thread, one tile of 256 rows x 1024
// columns decoded again and again (the size packed_matmul decodes at once; autograd/ops/op_packed_matmul.cpp),
// process CPU time per element, so a loaded machine changes the figures less than wall time would.
//   ggml_decode [reps]   prints: ggml_decode TYPE ref_ns=... fast_ns=... speedup=... nf4_ns=... fast_vs_nf4=...
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "fakequant/formats/blockwise_4bit.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/formats/ggml/iq2_xs.h"
#include "fakequant/formats/ggml/q2_k.h"
#include "fakequant/formats/ggml/q3_k.h"
#include "fakequant/formats/ggml/q4_k.h"
#include "fakequant/formats/ggml/q5_k.h"
#include "fakequant/formats/ggml/q6_k.h"

namespace fq = qforge::fakequant;
namespace gml = qforge::fakequant::ggml;

namespace {

constexpr int64_t kElements = 256 * 1024;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// CPU nanoseconds per decoded element, `reps` decodes of the tile.
double ns_per_element(int reps, const std::function<void()>& decode) {
  decode();  // warm the caches
  const double start = cpu_seconds();
  for (int r = 0; r < reps; ++r) decode();
  return (cpu_seconds() - start) * 1e9 / (static_cast<double>(reps) * kElements);
}

struct Decoder {
  const char* type;
  void (*ref)(const void*, float*, int64_t);
  void (*fast)(const void*, float*, int64_t);
};

template <typename Block, void (*Ref)(const Block*, float*, int64_t), void (*Fast)(const Block*, float*, int64_t)>
Decoder decoder(const char* type) {
  return {type, [](const void* b, float* y, int64_t k) { Ref(static_cast<const Block*>(b), y, k); },
          [](const void* b, float* y, int64_t k) { Fast(static_cast<const Block*>(b), y, k); }};
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 200;
  std::vector<float> w(kElements), out(kElements);
  uint32_t state = 1;
  for (float& v : w) v = 0.02f * (static_cast<float>((state = state * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f);
  const fq::Blockwise4Bit nf4 = fq::quantize_blockwise_4bit(w.data(), kElements, fq::FourBitType::kNf4);
  const double nf4_ns = ns_per_element(reps, [&] { fq::dequantize_blockwise_4bit(nf4, 0, kElements, out.data()); });
  const Decoder decoders[] = {
      decoder<gml::block_q4_K, gml::dequantize_row_q4_K_ref, gml::dequantize_row_q4_K>("q4_K"),
      decoder<gml::block_q5_K, gml::dequantize_row_q5_K_ref, gml::dequantize_row_q5_K>("q5_K"),
      decoder<gml::block_q6_K, gml::dequantize_row_q6_K_ref, gml::dequantize_row_q6_K>("q6_K"),
      decoder<gml::block_q3_K, gml::dequantize_row_q3_K_ref, gml::dequantize_row_q3_K>("q3_K"),
      decoder<gml::block_q2_K, gml::dequantize_row_q2_K_ref, gml::dequantize_row_q2_K>("q2_K"),
      decoder<gml::block_iq2_xs, gml::dequantize_row_iq2_xs_ref, gml::dequantize_row_iq2_xs>("iq2_xs"),
  };
  const std::vector<float> ones(kElements, 1.0f);
  for (const Decoder& d : decoders) {
    const gml::BlockType& type = gml::block_type(d.type);
    std::vector<uint8_t> bytes(static_cast<size_t>(gml::row_bytes(type, kElements)));
    for (int64_t r = 0; r < 256; ++r)
      type.quantize_row(w.data() + r * 1024, bytes.data() + r * gml::row_bytes(type, 1024), 1024, ones.data());
    const double ref = ns_per_element(reps, [&] { d.ref(bytes.data(), out.data(), kElements); });
    const double fast = ns_per_element(reps, [&] { d.fast(bytes.data(), out.data(), kElements); });
    std::printf("ggml_decode %s ref_ns=%.3f fast_ns=%.3f speedup=%.2f nf4_ns=%.3f fast_vs_nf4=%.2f\n", d.type, ref,
                fast, ref / fast, nf4_ns, fast / nf4_ns);
  }
  return 0;
}
