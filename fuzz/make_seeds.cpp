// Writes the seed corpora of the fuzz targets (tests/corpus/<target>/) with qforge's own writers: small
// valid files of every kind each reader takes, so the fuzzer starts from inputs that reach deep into the
// reader instead of failing at the magic. fuzz/make_seeds.sh runs it and adds what the qforge command
// makes (checkpoints) and copies (run configs). Usage: qforge_fuzz_seeds OUT_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "data/idx_file.h"
#include "data/token_file.h"
#include "exporters/gguf/ggml_types.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/imatrix_file.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/lora/gguf_lora_adapter.h"
#include "exporters/lora/peft_adapter.h"
#include "exporters/safetensors/safetensors.h"
#include "exporters/tokenizers/tokenizer_json.h"
#include "fuzz/fuzz_support.h"
#include "layers/llama.h"

namespace {

namespace fs = std::filesystem;
namespace gg = qforge::exporters::gguf;
namespace st = qforge::exporters::safetensors;
namespace tk = qforge::exporters::tokenizers;
using qforge::autograd::Shape;
using qforge::autograd::Tensor;

fs::path g_out;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream(g_out / target / name, std::ios::binary) << bytes;
}

std::string text_of(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Files of a folder in one input (fuzz_support.h split_files).
std::string join(const std::vector<std::string>& files) {
  std::string out;
  for (size_t i = 0; i < files.size(); ++i) out += (i ? std::string(qforge::fuzz::kFileSeparator) : "") + files[i];
  return out;
}

// The base model of the gguf_lora target (fuzz/targets/gguf_lora.cpp) and of the model seeds.
qforge::layers::LlamaConfig tiny_llama_config(int64_t hidden) {
  qforge::layers::LlamaConfig c;
  c.vocab_size = 16;
  c.hidden_size = hidden;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.intermediate_size = 2 * hidden;
  c.max_position_embeddings = 32;
  c.seed = 7;
  return c;
}

std::vector<std::string> letters(int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::string(1, static_cast<char>('a' + i)));
  return out;
}

Tensor ramp(const Shape& shape, float scale) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * static_cast<float>(i % 7 - 3);
  return t;
}

void gguf_seeds() {
  // Every metadata value type, a nested array, an explicit alignment and tensors of several block types.
  gg::GgufFile file;
  file.set("general.architecture", "llama");
  file.set(gg::kAlignmentKey, uint32_t{16});
  file.set("u8", uint8_t{1});
  file.set("i8", int8_t{-1});
  file.set("u16", uint16_t{2});
  file.set("i16", int16_t{-2});
  file.set("i32", int32_t{-3});
  file.set("f32", 0.5f);
  file.set("bool", true);
  file.set("u64", uint64_t{4});
  file.set("i64", int64_t{-4});
  file.set("f64", 0.25);
  file.set("strings", gg::Value(gg::make_array<std::string>({"x", "yz"})));
  gg::Array nested;
  nested.element_type = gg::ValueType::kArray;
  nested.elements.emplace_back(gg::make_array<int32_t>({1, 2}));
  file.set("nested", gg::Value(nested));
  const std::vector<std::byte> f32(4 * 4), f16(2 * 8), q8_0(34), q4_0(18);
  file.tensors.push_back({"scalar", {}, gg::kGgmlF32, 0});
  file.tensors.push_back({"f32", {3}, gg::kGgmlF32, 0});
  file.tensors.push_back({"f16", {4, 2}, gg::kGgmlF16, 0});
  file.tensors.push_back({"q8_0", {32}, gg::kGgmlQ8_0, 0});
  file.tensors.push_back({"q4_0", {32, 1}, gg::kGgmlQ4_0, 0});
  const std::vector<std::span<const std::byte>> data{std::span(f32).first(4), std::span(f32).first(12), f16, q8_0, q4_0};
  write("gguf", "types.gguf", text_of(gg::serialize_gguf(file, data)));

  // A byte-level BPE vocabulary without tensors (llama.cpp's models/ggml-vocab-*.gguf).
  gg::GgufFile vocab;
  vocab.set("general.architecture", "gpt2");
  vocab.set("tokenizer.ggml.model", "gpt2");
  vocab.set("tokenizer.ggml.pre", "gpt-2");
  vocab.set("tokenizer.ggml.tokens", gg::Value(gg::make_array<std::string>({"H", "e", "l", "o", "\xC4\xA0", "w", "He", "ll", "<|end|>"})));
  vocab.set("tokenizer.ggml.token_type", gg::Value(gg::make_array<int32_t>({1, 1, 1, 1, 1, 1, 1, 1, 3})));
  vocab.set("tokenizer.ggml.merges", gg::Value(gg::make_array<std::string>({"H e", "l l"})));
  write("gguf", "vocab_gpt2.gguf", text_of(gg::serialize_gguf(vocab, {})));
}

// The tiny model as llama.cpp files (F32 and Q8_0) cut down to what the importer reads: the exporter pads
// the vocabulary with 259 control and byte tokens, so the seed keeps the first 16 rows of token_embd
// and output and no tokenizer keys. The F32 file's vocabulary alone is a SentencePiece seed of gguf.
// Two more F32 files carry rope scaling (docs/gguf.md §15): llama3's rope_freqs.weight and linear's keys.
void write_llama_gguf_seed(gg::LlamaGguf built, const char* name) {
  std::erase_if(built.file.metadata, [](const gg::KeyValue& kv) { return kv.key.starts_with("tokenizer."); });
  std::vector<std::span<const std::byte>> data;
  for (size_t i = 0; i < built.file.tensors.size(); ++i) {
    gg::TensorInfo& t = built.file.tensors[i];
    std::span<const std::byte> bytes(built.tensor_bytes[i]);
    if (t.name == "token_embd.weight" || t.name == "output.weight") {
      bytes = bytes.first(bytes.size() / t.dims[1] * 16);
      t.dims[1] = 16;
    }
    data.push_back(bytes);
  }
  write("gguf_llama", name, text_of(gg::serialize_gguf(built.file, data)));
}

void llama_gguf_seeds() {
  for (const auto& [hidden, type, name] : {std::tuple{int64_t{8}, gg::LlamaFileType::kF32, "f32.gguf"},
                                          std::tuple{int64_t{32}, gg::LlamaFileType::kQ8_0, "q8_0.gguf"}}) {
    const qforge::layers::LlamaForCausalLM model(tiny_llama_config(hidden));
    gg::LlamaGguf built = gg::build_llama_gguf(model, letters(16), type);
    if (type == gg::LlamaFileType::kF32) {
      gg::GgufFile vocabulary;
      vocabulary.metadata = built.file.metadata;
      write("gguf", "vocab_spm.gguf", text_of(gg::serialize_gguf(vocabulary, {})));
    }
    write_llama_gguf_seed(std::move(built), name);
  }
  using qforge::layers::RopeScaling;
  for (const auto& [kind, name] : {std::pair{RopeScaling::Type::kLlama3, "rope_llama3.gguf"},
                                   std::pair{RopeScaling::Type::kLinear, "rope_linear.gguf"}}) {
    qforge::layers::LlamaConfig c = tiny_llama_config(16);  // head_dim 8: four rope factors
    c.rope_scaling.type = kind;
    c.rope_scaling.factor = 4.0;
    c.rope_scaling.original_max_position_embeddings = 8;
    write_llama_gguf_seed(gg::build_llama_gguf(qforge::layers::LlamaForCausalLM(c), letters(16), gg::LlamaFileType::kF32), name);
  }
}

qforge::exporters::NamedTensors tiny_lora() {
  return {{"model.layers.0.self_attn.q_proj.lora_A.weight", ramp(Shape{2, 8}, 0.1f)},
          {"model.layers.0.self_attn.q_proj.lora_B.weight", ramp(Shape{8, 2}, 0.01f)},
          {"model.layers.0.self_attn.v_proj.lora_A.weight", ramp(Shape{2, 8}, 0.2f)},
          {"model.layers.0.self_attn.v_proj.lora_B.weight", ramp(Shape{4, 2}, 0.02f)}};
}

void adapter_seeds(const fs::path& scratch) {
  qforge::exporters::lora::LoraAdapterConfig config;
  config.r = 2;
  config.lora_alpha = 4;
  qforge::exporters::lora::write_gguf_lora_adapter(scratch / "adapter.gguf", tiny_lora(), config, tiny_llama_config(8));
  write("gguf_lora", "q_v.gguf", read_text(scratch / "adapter.gguf"));
  config.use_rslora = true;
  config.target_modules = {"q_proj", "v_proj"};
  qforge::exporters::lora::save_peft_adapter(scratch / "peft", tiny_lora(), config);
  write("peft_adapter", "q_v.txt", join({read_text(scratch / "peft" / qforge::exporters::lora::kPeftConfigFile),
                                         read_text(scratch / "peft" / qforge::exporters::lora::kPeftWeightsFile)}));
}

void safetensors_seeds() {
  const qforge::exporters::NamedTensors tensors{{"a", ramp(Shape{2, 3}, 0.5f)}, {"b", ramp(Shape{4}, 1.0f)},
                                                {"empty", Tensor(Shape{0, 2})}, {"scalar", ramp(Shape{}, 1.0f)}};
  write("safetensors", "f32.safetensors", text_of(st::serialize_safetensors(tensors, {{"format", "pt"}})));
  write("safetensors", "f16.safetensors", text_of(st::serialize_safetensors(tensors, {}, st::Dtype::kF16)));
  write("safetensors", "bf16.safetensors", text_of(st::serialize_safetensors(tensors, {}, st::Dtype::kBF16)));
}

// config.json as transformers writes it for the tiny model (hidden 8), and variants of each architecture.
std::string hf_config_text(const std::string& architecture, const std::string& model_type, const std::string& extra) {
  return "{\n  \"architectures\": [\"" + architecture + "\"],\n  \"model_type\": \"" + model_type +
         "\",\n  \"vocab_size\": 16,\n  \"hidden_size\": 8,\n  \"intermediate_size\": 16,\n"
         "  \"num_hidden_layers\": 1,\n  \"num_attention_heads\": 2,\n  \"num_key_value_heads\": 1,\n"
         "  \"max_position_embeddings\": 32,\n  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": 10000.0,\n"
         "  \"hidden_act\": \"silu\",\n  \"tie_word_embeddings\": false,\n  \"torch_dtype\": \"float32\"" + extra + "\n}\n";
}

void hf_seeds() {
  const std::string llama = hf_config_text("LlamaForCausalLM", "llama", "");
  write("hf_config", "llama.json", llama);
  write("hf_config", "llama3_rope.json",
        hf_config_text("LlamaForCausalLM", "llama", ",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                       "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 16},\n"
                       "  \"attention_bias\": true, \"mlp_bias\": false, \"head_dim\": 4"));
  write("hf_config", "mistral.json", hf_config_text("MistralForCausalLM", "mistral", ",\n  \"sliding_window\": 16"));
  write("hf_config", "qwen2.json", hf_config_text("Qwen2ForCausalLM", "qwen2", ",\n  \"use_sliding_window\": false, "
                                                  "\"sliding_window\": null, \"layer_types\": [\"full_attention\"]"));
  // The model folder: one model.safetensors, and the same tensors in two shards with their index.
  const qforge::layers::LlamaForCausalLM model(tiny_llama_config(8));
  qforge::exporters::NamedTensors all, first, second;
  int64_t total_bytes = 0;
  for (const auto& [name, param] : model.named_parameters()) {
    total_bytes += 4 * param.data().numel();
    all.emplace(name, param.data());
    (name.find("mlp") == std::string::npos ? first : second).emplace(name, param.data());
  }
  write("hf_model", "single.txt", join({llama, "", text_of(st::serialize_safetensors(all, {{"format", "pt"}}))}));
  std::string index = "{\n  \"metadata\": {\"total_size\": " + std::to_string(total_bytes) + "},\n  \"weight_map\": {";
  for (const auto& [name, t] : all)
    index += (name == all.begin()->first ? "\n    \"" : ",\n    \"") + name + "\": \"model-0000" + (first.count(name) ? "1" : "2") +
             "-of-00002.safetensors\"";
  index += "\n  }\n}\n";
  write("hf_model", "sharded.txt", join({llama, index, text_of(st::serialize_safetensors(first)), text_of(st::serialize_safetensors(second))}));
}

void tokenizer_seeds() {
  using tk::BpeOptions;
  BpeOptions byte_level;
  byte_level.pre = tk::PreTokenizer::kGpt2;
  const tk::BpeTokenizer gpt2({"H", "e", "l", "o", "\xC4\xA0", "w", "He", "ll", "llo", "<|end|>"}, {{"H", "e"}, {"l", "l"}, {"ll", "o"}},
                              {{9, "<|end|>", true, false, false}}, byte_level);
  write("tokenizer_json", "gpt2.json", tk::tokenizer_json_text(gpt2));
  BpeOptions llama3 = byte_level;
  llama3.pre = tk::PreTokenizer::kLlama3;
  llama3.ignore_merges = true;
  write("tokenizer_json", "llama3.json", tk::tokenizer_json_text(tk::BpeTokenizer(
      {"H", "e", "He", "\xC4\xA0", "<|begin_of_text|>"}, {{"H", "e"}}, {{4, "<|begin_of_text|>", true, false, false}}, llama3)));
  // A Sequence of five Splits (DeepSeek Coder's pre-tokenizer, docs/tokenizers.md §2).
  BpeOptions deepseek = byte_level;
  deepseek.pre = tk::PreTokenizer::kDeepseekCoder;
  write("tokenizer_json", "deepseek_coder.json", tk::tokenizer_json_text(tk::BpeTokenizer(
      {"H", "e", "He", "\xC4\xA0", "1", "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"}, {{"H", "e"}},
      {{5, "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", true, false, false}}, deepseek)));
  BpeOptions spm;
  spm.flavour = tk::BpeFlavour::kSentencePiece;
  spm.byte_fallback = true;
  spm.unk = 0;
  std::vector<std::string> tokens{"<unk>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "<0xC3>", "<0xA9>", "<s>"};
  write("tokenizer_json", "sentencepiece.json", tk::tokenizer_json_text(tk::BpeTokenizer(
      tokens, {{"\xE2\x96\x81", "a"}}, {{7, "<s>", true, false, false}}, spm)));
}

void data_seeds(const fs::path& scratch) {
  namespace dt = qforge::data;
  const dt::IdxArray images{{3, 2, 2}, {0, 255, 7, 9, 1, 2, 3, 4, 5, 6, 7, 8}}, labels{{3}, {0, 9, 4}};
  for (bool gzip : {false, true}) {
    dt::write_idx((scratch / "images").string(), images, gzip);
    dt::write_idx((scratch / "labels").string(), labels, gzip);
    write("idx", gzip ? "gzip.txt" : "plain.txt", join({read_text(scratch / "images"), read_text(scratch / "labels")}));
  }
  const dt::TokenIds ids{0, 1, 2, 65535, 7};
  for (const auto& [format, name] : {std::pair{dt::TokenFormat::kUint16, "nanogpt.bin"}, std::pair{dt::TokenFormat::kUint32, "flat.u32"},
                                     std::pair{dt::TokenFormat::kLlmcUint16, "llmc_u16.bin"}, std::pair{dt::TokenFormat::kLlmcUint32, "llmc_u32.bin"}}) {
    dt::write_token_file((scratch / name).string(), ids, format);
    write("token_file", name, read_text(scratch / name));
  }
}

void imatrix_seeds() {
  gg::Imatrix imatrix;
  imatrix.datasets = {"fortunes.txt"};
  imatrix.chunk_count = 3;
  imatrix.chunk_size = 16;
  imatrix.entries["blk.0.attn_q.weight"] = {{1.0f, 2.0f, 3.0f, 4.0f}, {24.0f}, {}};
  imatrix.entries["blk.0.ffn_gate_exps.weight"] = {{1.0f, 2.0f, 3.0f, 4.0f}, {8.0f, 0.0f}, {0.5f, 0.5f, 0.5f, 0.5f}};
  write("imatrix_gguf", "two_entries.gguf", text_of(gg::serialize_gguf_imatrix(imatrix)));
  gg::LegacyImatrix legacy = gg::to_legacy_imatrix(imatrix);
  write("imatrix_dat", "with_trailer.dat", text_of(gg::serialize_legacy_imatrix(legacy)));
  legacy.has_trailer = false;
  write("imatrix_dat", "no_trailer.dat", text_of(gg::serialize_legacy_imatrix(legacy)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR (tests/corpus)\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  const fs::path scratch = qforge::fuzz::scratch_dir();
  gguf_seeds();
  llama_gguf_seeds();
  adapter_seeds(scratch);
  safetensors_seeds();
  hf_seeds();
  tokenizer_seeds();
  data_seeds(scratch);
  imatrix_seeds();
  std::printf("seeds written to %s\n", g_out.c_str());
  return 0;
}
