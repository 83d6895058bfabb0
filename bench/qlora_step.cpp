// One LoRA training step of a random-weight Llama, in this process alone, for bench/qlora_memory.py:
// forward, backward and an AdamW update of the adapters on batch 1 x 256 tokens, activation
// checkpointing on. --base nf4 holds every decoder projection packed (QLoRA, Dettmers et al. 2023 §3);
// --base f32 keeps them as frozen FP32 weights (plain LoRA). Embedding, norms and lm_head stay FP32
// and frozen either way. --base gptq holds them as a 4-bit GPTQ checkpoint's Linears are held when
// `qlora --base` reads a GPTQ folder (fakequant::PackedGroupIndexWeight: codes, a scale and zero point per
// group of 128, g_idx), gptq-act with act-order's scattered groups (a random column order). Projections are built one at a time (LlamaForCausalLM's LinearFactory), so no
// FP32 copy of the packed base ever exists. Prints peak RSS and the median step time.
// --base q4_k_m|q3_k_m|iq2_xs holds every projection as a GGUF base is held (fakequant::PackedGgmlWeight)
// in the ggml type that llama.cpp file type gives it, quantized with qforge's encoders (see gguf_weight).
//
//   qlora_step --shape 150m|vocab32k --base nf4|f32|gptq|gptq-act|q4_k_m|q3_k_m|iq2_xs [--head f32|nf4]
//              [--steps 5] [--rank 8] [--cache DIR]
// --head nf4 also freezes lm_head in NF4 (the embedding stays FP32: its rows are gathered, not multiplied).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/allocator.h"
#include "autograd/ops.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/gguf/llama_type_mix.h"
#include "fakequant/formats/ggml/block_types.h"
#include "fakequant/packed/pack_weight.h"
#include "fakequant/packed/packed_ggml.h"
#include "fakequant/packed/packed_group_index.h"
#include "layers/llama.h"
#include "layers/lora.h"
#include "optim/adam.h"

namespace ag = qforge::autograd;
namespace ly = qforge::layers;

namespace {

struct Options {
  std::string shape = "150m", base = "nf4", head = "f32", cache;
  int steps = 5;
  int64_t rank = 8;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--shape") o.shape = value;
    else if (key == "--base") o.base = value;
    else if (key == "--head") o.head = value;
    else if (key == "--steps") o.steps = std::stoi(value);
    else if (key == "--rank") o.rank = std::stoll(value);
    else if (key == "--cache") o.cache = value;
    else throw std::invalid_argument("qlora_step: unknown option " + key);
  }
  return o;
}

// The two shapes: ~150M parameters in the projections with a byte vocabulary, and the 134M
// shape with a 32000-token vocabulary (embedding and head 37% of the parameters).
ly::LlamaConfig model_config(const std::string& shape) {
  ly::LlamaConfig c;
  c.max_position_embeddings = 256;
  c.gradient_checkpointing = true;
  if (shape == "150m") {
    c.vocab_size = 256;
    c.hidden_size = 1024;
    c.num_hidden_layers = 12;
    c.num_attention_heads = 16;
    c.num_key_value_heads = 8;
    c.intermediate_size = 2816;
  } else if (shape == "vocab32k") {
    c.vocab_size = 32000;
    c.hidden_size = 768;
    c.num_hidden_layers = 12;
    c.num_attention_heads = 12;
    c.num_key_value_heads = 12;
    c.intermediate_size = 2048;
  } else {
    throw std::invalid_argument("qlora_step: --shape is 150m or vocab32k, got " + shape);
  }
  return c;
}

// W [out, in] as a GPTQ v1 checkpoint holds it: 4-bit symmetric codes (zero point 8) per group of 128 input
// columns, round to nearest (the step's cost does not depend on how the codes were chosen). act_order puts
// the columns in a random order before grouping them, as GPTQ's act-order with dynamic groups leaves g_idx.
qforge::autograd::PackedWeightPtr gptq_weight(const float* w, int64_t out, int64_t in, bool act_order, uint64_t seed) {
  qforge::fakequant::GroupIndexState s;
  s.rows = out;
  s.cols = in;
  s.bits = 4;
  s.group_size = 128;
  std::vector<int64_t> order(static_cast<size_t>(in));
  for (int64_t c = 0; c < in; ++c) order[static_cast<size_t>(c)] = c;
  if (act_order) std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  s.g_idx.assign(static_cast<size_t>(in), 0);
  for (int64_t k = 0; k < in; ++k) s.g_idx[static_cast<size_t>(order[static_cast<size_t>(k)])] = k / s.group_size;
  const int64_t groups = s.groups();
  s.scales.assign(static_cast<size_t>(out * groups), 0.0f);
  s.zeros.assign(static_cast<size_t>(out * groups), 8);
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) {
      float& scale = s.scales[static_cast<size_t>(r * groups + s.g_idx[static_cast<size_t>(c)])];
      scale = std::max(scale, std::fabs(w[r * in + c]) / 7.0f);
    }
  std::vector<int64_t> codes(static_cast<size_t>(out * in));
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) {
      const float scale = s.scales[static_cast<size_t>(r * groups + s.g_idx[static_cast<size_t>(c)])];
      const float q = std::nearbyint(w[r * in + c] / scale) + 8.0f;
      codes[static_cast<size_t>(r * in + c)] = static_cast<int64_t>(std::clamp(q, 0.0f, 15.0f));
    }
  return std::make_shared<qforge::fakequant::PackedGroupIndexWeight>(std::move(s), codes);
}

namespace gg = qforge::exporters::gguf;
namespace gml = qforge::fakequant::ggml;

// The ggml type `file_type`'s mix gives the projection at `path` ("model.layers.3.mlp.down_proj"): the mix
// table's llama_tensor_type with llama.cpp's counters (attn_v, ffn_down, ffn_gate and ffn_up are counted once
// per layer, so their index is the layer). The bench quantizes with an importance vector, so the mix is the
// one llama-quantize picks with an imatrix (IQ2_XS files cannot be made without one).
uint32_t gguf_mix_type(const std::string& file_type, const std::string& path, int64_t in, const ly::LlamaConfig& c) {
  const std::optional<std::string> name = gg::gguf_tensor_name(path + ".weight");
  if (!name || name->rfind("blk.", 0) != 0) throw std::invalid_argument("qlora_step: no GGUF layer tensor for " + path);
  const int64_t layer = std::stoll(name->substr(4));
  const gg::LlamaFileType type = gg::parse_llama_file_type(file_type);
  const gg::LlamaMixModel model{c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, false, true};
  const gg::LlamaTensorSite site{*name, static_cast<uint64_t>(in), 2, layer, c.num_hidden_layers, layer};
  return gg::llama_tensor_type(type, model, site);
}

bool is_gguf_base(const std::string& base) { return base == "q4_k_m" || base == "q3_k_m" || base == "iq2_xs"; }

// W [out, in] held as a GGUF base's projection is: the bytes of its mixed type, encoded row by row by the type
// table's quantize_row (rows in parallel: the IQ2_XS search costs ~2 us a weight), with an all-ones importance
// vector for the types whose encoder needs one (an imatrix of a flat activation distribution). The encoding is
// deterministic, so with --cache DIR the bytes are kept in DIR/<base>.<path>.bin and read back by the next
// process (the bench's rounds): the step's cost depends on the type, not on how long encoding took.
qforge::autograd::PackedWeightPtr gguf_weight(const Options& o, const std::string& path, const float* w, int64_t out,
                                              int64_t in, const ly::LlamaConfig& c) {
  const gml::BlockType& type = *gml::find_type(static_cast<int>(gguf_mix_type(o.base, path, in, c)));
  const int64_t row_bytes = gml::row_bytes(type, in);
  std::vector<uint8_t> bytes(static_cast<size_t>(out * row_bytes));
  const std::string cache = o.cache.empty() ? "" : o.cache + "/" + o.base + "." + path + ".bin";
  if (std::FILE* f = cache.empty() ? nullptr : std::fopen(cache.c_str(), "rb")) {
    const size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    if (got == bytes.size()) return qforge::fakequant::wrap_ggml_weight(type, std::move(bytes), out, in, path);
  }
  const std::vector<float> ones(static_cast<size_t>(in), 1.0f);
  const float* importance = type.needs_importance ? ones.data() : nullptr;
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t r = 0; r < out; ++r) type.quantize_row(w + r * in, bytes.data() + r * row_bytes, in, importance);
  if (std::FILE* f = cache.empty() ? nullptr : std::fopen(cache.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  return qforge::fakequant::wrap_ggml_weight(type, std::move(bytes), out, in, path);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  const ly::LlamaConfig config = model_config(o.shape);
  // Random N(0, 0.02) weights, as HF initialises; each projection is packed as soon as it exists.
  std::map<std::string, int> formats;  // packed format -> projections held in it
  ly::LinearFactory factory = [&](const std::string& path, int64_t in, int64_t out, uint64_t seed) {
    auto dense = std::make_shared<ly::Linear>(in, out, false, seed);
    const std::string& format = path == "lm_head" ? o.head : o.base;
    if (format == "f32") return dense;
    if (is_gguf_base(format)) {
      auto packed = gguf_weight(o, path, dense->weight().data().data(), out, in, config);
      ++formats[packed->format()];
      return std::make_shared<ly::Linear>(packed);
    }
    if (format == "gptq" || format == "gptq-act")
      return std::make_shared<ly::Linear>(gptq_weight(dense->weight().data().data(), out, in, format == "gptq-act", seed));
    return std::make_shared<ly::Linear>(
        qforge::fakequant::pack_weight(format, dense->weight().data().data(), out, in));
  };
  auto model = std::make_shared<ly::LlamaForCausalLM>(config, factory);
  model->freeze();
  ly::LoraOptions lora;
  lora.rank = o.rank;
  lora.alpha = 2.0 * static_cast<double>(o.rank);
  ly::apply_lora(*model, {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}, lora);
  std::vector<ag::Variable> trainable;
  int64_t adapter_parameters = 0;
  for (const auto& [name, p] : model->named_parameters()) {
    if (p.requires_grad()) {
      trainable.push_back(p);
      adapter_parameters += p.numel();
    }
  }
  qforge::optim::AdamW optimizer(trainable);
  // Initialisation temporaries (e.g. the head's init tensor) would otherwise stay parked in the
  // allocator's cache of freed blocks, counted in RSS, sized for nothing the step allocates.
  ag::release_cached_allocations();
  const double built_rss_mb = peak_rss_mb();
  const double built_live_mb = static_cast<double>(ag::live_allocation_bytes()) / 1048576.0;
  ag::reset_peak_allocation_bytes();
  std::mt19937 rng(1);
  std::vector<int64_t> ids(257);
  for (auto& id : ids) id = static_cast<int64_t>(rng() % static_cast<uint32_t>(config.vocab_size));
  const ag::IndexTensor inputs(ag::Shape{1, 256}, std::vector<int64_t>(ids.begin(), ids.end() - 1));
  const ag::IndexTensor targets(ag::Shape{256}, std::vector<int64_t>(ids.begin() + 1, ids.end()));
  std::vector<double> seconds;
  double loss = 0;
  for (int step = 0; step < o.steps + 1; ++step) {  // the first step warms up (allocations, page faults)
    const auto start = std::chrono::steady_clock::now();
    ag::Variable logits = model->forward(inputs);
    const double after_forward = static_cast<double>(ag::live_allocation_bytes()) / 1048576.0;
    ag::Variable l = ag::cross_entropy(ag::reshape(logits, {-1, config.vocab_size}), targets);
    const double after_loss = static_cast<double>(ag::live_allocation_bytes()) / 1048576.0;
    optimizer.zero_grad();
    l.backward();
    if (std::getenv("QLORA_STEP_TRACE"))
      std::fprintf(stderr, "live MB: forward %.1f, loss %.1f, after backward %.1f, peak %.1f\n", after_forward,
                   after_loss, static_cast<double>(ag::live_allocation_bytes()) / 1048576.0,
                   static_cast<double>(ag::peak_allocation_bytes()) / 1048576.0);
    optimizer.step();
    loss = l.item();
    if (step > 0) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  std::string mix;  // "q4_K:60,q6_K:24" for a GGUF base
  for (const auto& [format, count] : formats) mix += (mix.empty() ? "" : ",") + format + ":" + std::to_string(count);
  // rss_mb is the whole process's peak (construction included); the tensor figures come from the
  // autograd allocator: what the built model holds, and the step's peak on top of nothing freed.
  std::printf("qlora_step shape=%s base=%s head=%s rank=%lld adapter_params=%lld loss=%.4f step_s=%.4f rss_mb=%.1f "
              "built_rss_mb=%.1f model_tensors_mb=%.1f step_peak_tensors_mb=%.1f%s%s\n",
              o.shape.c_str(), o.base.c_str(), o.head.c_str(), static_cast<long long>(o.rank), static_cast<long long>(adapter_parameters),
              loss, seconds[seconds.size() / 2], peak_rss_mb(), built_rss_mb, built_live_mb,
              static_cast<double>(ag::peak_allocation_bytes()) / 1048576.0, mix.empty() ? "" : " mix=", mix.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "qlora_step: error: %s\n", e.what());
  return 1;
}
