// GGUF rope scaling, written and read (docs/gguf.md §15): llama3 -> rope_freqs.weight bit for bit as llama.cpp's
// converter computes it (an independent numpy reference, tests/exporters/llama3_rope_factors.py), read back as
// per-frequency factors; linear -> rope.scaling.type/factor; yarn, longrope and bad factors refused by name and byte.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <tuple>

#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_architecture.h"
#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_requantize.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/hf/hf_exporter.h"
#include "exporters/model_export.h"
#include "layers/rope_frequencies.h"
#include "tests/exporters/llama_gguf_test_util.h"
#include "tests/support/error_of.h"

namespace qforge::exporters::gguf {
namespace {

using layers::LlamaConfig;
using layers::LlamaForCausalLM;
using layers::RopeScaling;
using ::testing::HasSubstr;

// The numpy reference's float32 bit patterns (line 0) and, with torch, the converter's torch formula (line 1).
std::vector<std::vector<uint32_t>> reference_bits(double base, int dim, double factor, double low, double high, int old) {
  char command[512];
  std::snprintf(command, sizeof command, "%s %s/tests/exporters/llama3_rope_factors.py %.17g %d %.17g %.17g %.17g %d --torch",
                QFORGE_TORCH_PYTHON, QFORGE_SOURCE_DIR, base, dim, factor, low, high, old);
  FILE* pipe = popen(command, "r");
  if (pipe == nullptr) throw std::runtime_error(std::string("cannot run ") + command);
  std::vector<std::vector<uint32_t>> lines(1);
  char word[64];
  while (std::fscanf(pipe, "%63s", word) == 1) {
    if (std::string(word) == "no") break;  // "no torch"
    lines.back().push_back(static_cast<uint32_t>(std::stoul(word, nullptr, 16)));
    if (lines.back().size() == static_cast<size_t>(dim / 2) && lines.size() < 2) lines.emplace_back();
  }
  if (pclose(pipe) != 0) throw std::runtime_error(std::string("failed: ") + command);
  if (lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<uint32_t> bits_of(const std::vector<float>& v) {
  std::vector<uint32_t> out;
  for (float x : v) out.push_back(std::bit_cast<uint32_t>(x));
  return out;
}

LlamaConfig llama3_config(float theta, int64_t heads, int64_t head_dim, double factor, int64_t original) {
  LlamaConfig c;
  c.rope_theta = theta;
  c.num_attention_heads = c.num_key_value_heads = heads;
  c.hidden_size = heads * head_dim;
  c.rope_scaling.type = RopeScaling::Type::kLlama3;
  c.rope_scaling.factor = factor;
  c.rope_scaling.original_max_position_embeddings = original;
  return c;
}

// The tiny model of the round trips: head_dim 16 (8 frequencies), original context 64, factor 8, so one
// frequency is kept, two are blended and five divided (wavelengths 2 pi 10000^(i/8) against 16 and 64).
std::shared_ptr<LlamaForCausalLM> tiny_llama(RopeScaling scaling) {
  LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 96;
  c.max_position_embeddings = 128;
  c.initializer_range = 0.3f;  // sharp attention, so the rotation shows in the logits
  c.seed = 11;
  c.rope_scaling = std::move(scaling);
  return std::make_shared<LlamaForCausalLM>(c);
}

RopeScaling llama3_scaling() {
  RopeScaling r;
  r.type = RopeScaling::Type::kLlama3;
  r.factor = 8.0;
  r.original_max_position_embeddings = 64;
  return r;
}

std::vector<std::string> vocab() {
  std::vector<std::string> v;
  for (int i = 0; i < 40; ++i) v.push_back("t" + std::to_string(i));
  return v;
}

using qforge::testing::bytes_of;

ImportedLlama read_back(const LlamaGguf& g, const std::string& name = "rope.gguf") {
  return read_llama_gguf(GgufReader(bytes_of(g), name), name);
}

autograd::Tensor logits(LlamaForCausalLM& model, int64_t positions) {
  model.eval();
  std::vector<int64_t> ids;
  for (int64_t t = 0; t < positions; ++t) ids.push_back((t * 7 + 3) % 40);
  return model.forward(autograd::IndexTensor(autograd::Shape{1, positions}, ids)).data();
}

// Over the model's 40 tokens: a file read back has the GGUF's <unk>, <s>, </s> and byte tokens too (§4).
float max_abs_diff(const autograd::Tensor& a, const autograd::Tensor& b) {
  const int64_t positions = a.shape()[1], va = a.shape()[2], vb = b.shape()[2];
  float m = 0.0f;
  for (int64_t t = 0; t < positions; ++t)
    for (int64_t j = 0; j < 40; ++j) m = std::max(m, std::abs(a.data()[t * va + j] - b.data()[t * vb + j]));
  return m;
}

// Where `needle` starts in `file` (searched, not taken from the reader): the byte an error must name.
uint64_t find_bytes(const std::vector<std::byte>& file, const void* needle, size_t size) {
  const auto* n = static_cast<const std::byte*>(needle);
  const auto it = std::search(file.begin(), file.end(), n, n + size);
  return static_cast<uint64_t>(it - file.begin());
}
uint64_t key_byte(const std::vector<std::byte>& file, const std::string& key) {
  return find_bytes(file, key.data(), key.size()) - 8;  // the pair starts with the key's u64 length
}

TEST(RopeScalingFactors, Llama3EqualsTheConverterBitForBit) {
  struct Case { float theta; int64_t heads, head_dim; double factor; int64_t original; };
  // The tiny model's; Llama 3.1 8B's (head_dim 128) and Llama 3.2 1B's (64, factor 32); a base where torch's
  // powf misrounds one frequency outside the blend region.
  for (const Case& k : {Case{10000.0f, 4, 16, 8.0, 64}, Case{500000.0f, 32, 128, 8.0, 8192},
                        Case{500000.0f, 32, 64, 32.0, 8192}, Case{12345.0f, 2, 128, 8.0, 100}}) {
    const LlamaConfig c = llama3_config(k.theta, k.heads, k.head_dim, k.factor, k.original);
    const std::vector<uint32_t> ours = bits_of(layers::llama3_rope_freq_factors(c));
    const auto reference = reference_bits(k.theta, static_cast<int>(k.head_dim), k.factor, 1.0, 4.0, static_cast<int>(k.original));
    ASSERT_GE(reference.size(), 1u);
    EXPECT_EQ(ours, reference[0]) << "numpy, theta " << k.theta << " head_dim " << k.head_dim;
    if (reference.size() == 2) EXPECT_EQ(ours, reference[1]) << "torch, theta " << k.theta << " head_dim " << k.head_dim;
    else std::printf("no torch under %s: the torch formula was not run\n", QFORGE_TORCH_PYTHON);
  }
  const std::vector<float> tiny = layers::llama3_rope_freq_factors(llama3_config(10000.0f, 4, 16, 8.0, 64));
  EXPECT_EQ(tiny[0], 1.0f);  // kept
  EXPECT_GT(tiny[1], 1.0f);  // blended
  EXPECT_LT(tiny[2], 8.0f);
  EXPECT_EQ(tiny[3], 8.0f);  // divided
}

// kRopeFactorsTolerance (eval --gguf, qlora --base): a llama3 config against its own float32 factors stays within
// it, up to factor 64; any real change of scaling (none, or another factor) is far outside.
TEST(RopeScalingFactors, Llama3AndItsFactorsRotateAlikeWithinTheTolerance) {
  for (const auto& [theta, head_dim, factor, original] : {std::tuple{500000.0f, 128, 8.0, 8192}, std::tuple{500000.0f, 64, 32.0, 8192},
                                                        std::tuple{10000.0f, 128, 64.0, 100}}) {
    const LlamaConfig llama3 = llama3_config(theta, 2, head_dim, factor, original);
    LlamaConfig factors = llama3;
    factors.rope_scaling.type = RopeScaling::Type::kFactors;
    factors.rope_scaling.freq_factors = layers::llama3_rope_freq_factors(llama3);
    const double d = layers::rope_frequency_difference(llama3, factors);
    std::printf("theta %g head_dim %d factor %g: llama3 vs its float32 factors %.3g relative\n", theta, head_dim, factor, d);
    EXPECT_LE(d, layers::kRopeFactorsTolerance);
    EXPECT_GT(d, 0.0);  // they do differ: float32 rounding
    LlamaConfig other = llama3;
    other.rope_scaling.factor = factor * 1.01;
    EXPECT_GT(layers::rope_frequency_difference(llama3, other), 100 * layers::kRopeFactorsTolerance);
  }
}

TEST(RopeScalingFactors, ValidateChecksLengthAndValues) {
  LlamaConfig c = llama3_config(10000.0f, 4, 16, 8.0, 64);
  c.rope_scaling.type = RopeScaling::Type::kFactors;
  c.rope_scaling.freq_factors.assign(7, 1.0f);
  EXPECT_THAT(testing::error_of([&] { c.validate(); }), HasSubstr("freq_factors has 7 values, head_dim/2 is 8"));
  c.rope_scaling.freq_factors.assign(8, 1.0f);
  c.validate();
  c.rope_scaling.freq_factors[5] = 0.0f;
  EXPECT_THAT(testing::error_of([&] { c.validate(); }), HasSubstr("freq_factors[5] is 0.000000, not finite and > 0"));
  c.rope_scaling.freq_factors[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(testing::error_of([&] { c.validate(); }), HasSubstr("freq_factors[5] is nan"));
}


TEST(GgufRopeScaling, Llama3WritesRopeFreqsAndReadsBackAsFactors) {
  const auto model = tiny_llama(llama3_scaling());
  const LlamaGguf g = build_llama_gguf(*model, vocab(), LlamaFileType::kF32);
  // First tensor, as the converter yields it: F32, ne [head_dim/2], the numpy reference's bytes.
  const TensorInfo& info = g.file.tensors.at(0);
  EXPECT_EQ(info.name, "rope_freqs.weight");
  EXPECT_EQ(info.type, kGgmlF32);
  EXPECT_EQ(info.dims, std::vector<uint64_t>{8});
  std::vector<float> written(8);
  ASSERT_EQ(g.tensor_bytes[0].size(), 32u);
  std::memcpy(written.data(), g.tensor_bytes[0].data(), 32);
  EXPECT_EQ(bits_of(written), reference_bits(10000.0, 16, 8.0, 1.0, 4.0, 64).at(0));
  EXPECT_EQ(g.file.find("llama.rope.scaling.type"), nullptr);  // llama3 is the tensor only, as the converter writes

  const ImportedLlama imported = read_back(g);
  const RopeScaling& r = imported.model->config().rope_scaling;
  EXPECT_EQ(r.type, RopeScaling::Type::kFactors);
  EXPECT_EQ(bits_of(r.freq_factors), bits_of(written));
  EXPECT_EQ(imported.model->state_dict().size(), model->state_dict().size());  // not a parameter

  // The re-read model is the kFactors forward of the same weights, bit for bit ...
  RopeScaling factors;
  factors.type = RopeScaling::Type::kFactors;
  factors.freq_factors = written;
  const auto by_factors = tiny_llama(factors);
  by_factors->load_state_dict(model->state_dict(), true);
  const int64_t positions = 128;  // twice the original context
  const autograd::Tensor read = logits(*imported.model, positions);
  EXPECT_EQ(max_abs_diff(read, logits(*by_factors, positions)), 0.0f);
  // ... close to the llama3 (HF config) model's, and far from the unscaled model's.
  const float to_llama3 = max_abs_diff(read, logits(*model, positions));
  const auto unscaled = tiny_llama(RopeScaling{});
  unscaled->load_state_dict(model->state_dict(), true);
  const float to_unscaled = max_abs_diff(read, logits(*unscaled, positions));
  std::printf("max |logit diff| over %lld positions: file vs llama3 model %.3g, file vs unscaled model %.3g\n",
              static_cast<long long>(positions), to_llama3, to_unscaled);
  EXPECT_LE(to_llama3, 3e-5f);  // measured 1.29e-5: float32 factors against llama3 in double
  EXPECT_GE(to_unscaled, 0.1f);

  // Written back unchanged: the re-export is the same file, byte for byte.
  EXPECT_EQ(bytes_of(build_llama_gguf(*imported.model, imported.tokens, LlamaFileType::kF32)), bytes_of(g));
}

TEST(GgufRopeScaling, RopeFreqsStayF32InEveryFileType) {
  const auto model = tiny_llama(llama3_scaling());
  const LlamaGguf f32 = build_llama_gguf(*model, vocab(), LlamaFileType::kF32);
  for (LlamaFileType type : {LlamaFileType::kQ8_0, LlamaFileType::kQ4_K_M, LlamaFileType::kQ2_K}) {
    const LlamaGguf g = build_llama_gguf(*model, vocab(), type);
    EXPECT_EQ(g.file.tensors[0].type, kGgmlF32) << llama_file_type_name(type);
    EXPECT_EQ(g.tensor_bytes[0], f32.tensor_bytes[0]) << llama_file_type_name(type);
    // quantize-gguf (gguf_requantize.cpp) copies 1-D tensors in their own type.
    EXPECT_EQ(requantized_types(f32.file, type)[0], kGgmlF32) << llama_file_type_name(type);
    EXPECT_EQ(read_back(g).model->config().rope_scaling.freq_factors, read_back(f32).model->config().rope_scaling.freq_factors);
  }
}

TEST(GgufRopeScaling, LinearKeysRoundTrip) {
  RopeScaling linear;
  linear.type = RopeScaling::Type::kLinear;
  linear.factor = 4.0;
  const auto model = tiny_llama(linear);
  const LlamaGguf g = build_llama_gguf(*model, vocab(), LlamaFileType::kF32);
  EXPECT_EQ(g.file.find("llama.rope.scaling.type")->get<std::string>(), "linear");
  EXPECT_EQ(g.file.find("llama.rope.scaling.factor")->get<float>(), 4.0f);
  EXPECT_EQ(g.file.find_tensor("rope_freqs.weight"), nullptr);
  const ImportedLlama imported = read_back(g);
  EXPECT_EQ(imported.model->config().rope_scaling.type, RopeScaling::Type::kLinear);
  EXPECT_EQ(imported.model->config().rope_scaling.factor, 4.0);
  EXPECT_EQ(max_abs_diff(logits(*imported.model, 100), logits(*model, 100)), 0.0f);
  EXPECT_EQ(bytes_of(build_llama_gguf(*imported.model, imported.tokens, LlamaFileType::kF32)), bytes_of(g));
  // llama.cpp's load_hparams: no type key means "linear", so the factor alone scales (also under the old
  // key rope.scale_linear); "none" never scales, whatever the factor says.
  LlamaGguf untyped = g;
  std::erase_if(untyped.file.metadata, [](const KeyValue& kv) { return kv.key == "llama.rope.scaling.type"; });
  EXPECT_EQ(read_back(untyped).model->config().rope_scaling.factor, 4.0);
  std::erase_if(untyped.file.metadata, [](const KeyValue& kv) { return kv.key == "llama.rope.scaling.factor"; });
  untyped.file.set("llama.rope.scale_linear", 2.0f);
  EXPECT_EQ(read_back(untyped).model->config().rope_scaling.factor, 2.0);
  LlamaGguf none = g;
  none.file.set("llama.rope.scaling.type", std::string("none"));
  EXPECT_EQ(read_back(none).model->config().rope_scaling.type, RopeScaling::Type::kNone);
}

// Each broken file's error names the file, the key or tensor, and the byte where it starts in the file.
std::string read_error(const LlamaGguf& g) {
  return testing::error_of([&] { read_back(g, "bad.gguf"); });
}

TEST(GgufRopeScaling, RefusedByNameAndByte) {
  const LlamaGguf g = build_llama_gguf(*tiny_llama(llama3_scaling()), vocab(), LlamaFileType::kF32);
  const std::vector<std::byte> file = bytes_of(g);
  const uint64_t data = find_bytes(file, g.tensor_bytes[0].data(), 32);
  const std::string at = "tensor 'rope_freqs.weight' at byte ";
  LlamaGguf bad = g;
  bad.tensor_bytes[0].resize(28);
  bad.file.tensors[0].dims = {7};
  EXPECT_THAT(read_error(bad), HasSubstr("bad.gguf: " + at + std::to_string(find_bytes(bytes_of(bad), bad.tensor_bytes[0].data(), 28)) +
                                         ": has 1 dims, ne[0] 7; expected ne [8] (head_dim / 2)"));
  for (const float value : {std::numeric_limits<float>::quiet_NaN(), 0.0f, -1.0f}) {
    bad = g;
    std::memcpy(bad.tensor_bytes[0].data() + 12, &value, 4);
    EXPECT_THAT(read_error(bad), HasSubstr(at + std::to_string(data) + ": value 3 is "));
    EXPECT_THAT(read_error(bad), HasSubstr("not a finite divisor > 0"));
  }
  bad = g;
  bad.file.tensors[0].type = kGgmlF16;
  bad.tensor_bytes[0].resize(16);
  EXPECT_THAT(read_error(bad), HasSubstr("has ggml type 1, not F32"));
  for (const std::string type : {"yarn", "longrope", "dynamic"}) {
    bad = g;
    bad.file.set("llama.rope.scaling.type", type);
    const std::vector<std::byte> b = bytes_of(bad);
    EXPECT_THAT(read_error(bad), HasSubstr("bad.gguf: key llama.rope.scaling.type at byte " +
                                           std::to_string(key_byte(b, "llama.rope.scaling.type")) + ": '" + type +
                                           "' is not a rope scaling qforge reads (none, linear)"));
  }
  bad = g;
  bad.file.set("llama.rope.scaling.attn_factor", 1.5f);
  EXPECT_THAT(read_error(bad), HasSubstr("key llama.rope.scaling.attn_factor at byte " +
                                         std::to_string(key_byte(bytes_of(bad), "llama.rope.scaling.attn_factor")) +
                                         ": 1.500000 scales rope's cos and sin"));
  bad.file.set("llama.rope.scaling.attn_factor", 1.0f);
  EXPECT_NO_THROW(read_back(bad));
  bad = g;
  bad.file.set("llama.rope.scaling.factor", 2.0f);
  EXPECT_THAT(read_error(bad), HasSubstr("comes with a linear rope factor 2.000000 as well"));
  bad = g;
  bad.file.set("llama.rope.scaling.factor", 0.5f);
  bad.file.tensors.erase(bad.file.tensors.begin());
  bad.tensor_bytes.erase(bad.tensor_bytes.begin());
  EXPECT_THAT(read_error(bad), HasSubstr("key llama.rope.scaling.factor at byte " +
                                         std::to_string(key_byte(bytes_of(bad), "llama.rope.scaling.factor")) +
                                         ": 0.500000 is not a linear rope factor >= 1"));
  bad = g;
  bad.file.set("general.architecture", std::string("qwen2"));
  for (KeyValue& kv : bad.file.metadata)
    if (kv.key.rfind("llama.", 0) == 0) kv.key = "qwen2." + kv.key.substr(6);
  EXPECT_THAT(read_error(bad), HasSubstr(at + std::to_string(find_bytes(bytes_of(bad), g.tensor_bytes[0].data(), 32)) +
                                         ": is not read by llama.cpp's qwen2 graph"));
}

TEST(GgufRopeScaling, ExportsRefuseWhatTheFormatCannotHold) {
  LlamaConfig c = tiny_llama(llama3_scaling())->config();
  c.qkv_bias = true;  // written as qwen2, whose llama.cpp graph reads no rope_freqs.weight
  EXPECT_THAT(testing::error_of([&] { gguf_architecture_for(c); }), HasSubstr("llama.cpp's qwen2 graph does not read"));
  c.rope_scaling.type = RopeScaling::Type::kLinear;
  EXPECT_EQ(std::string(gguf_architecture_for(c).name), "qwen2");
  // A GGUF's factors have no config.json rope_scaling; refused before anything is written.
  ExportSource source;
  source.model = LlamaExport{};
  source.model->model = read_back(build_llama_gguf(*tiny_llama(llama3_scaling()), vocab(), LlamaFileType::kF32)).model;
  const auto out = std::filesystem::temp_directory_path() / ("qforge_rope_hf_" + std::to_string(::getpid()));
  EXPECT_THAT(testing::error_of([&] { hf::export_hf(source, ExportOptions{}, out); }),
              HasSubstr("export --format hf: rope scaling by per-frequency factors (a GGUF file's rope_freqs.weight)"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace qforge::exporters::gguf
