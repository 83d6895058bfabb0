// Architecture "qwen2" and "gpt2" vocabularies in GGUF (docs/gguf.md §13, §14): what the writer puts in the
// file, what the reader makes of it, and the reader's errors (file, key or tensor, byte).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/llama_tensor_names.h"
#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "fakequant/formats/ggml/block_types.h"
#include "tests/exporters/llama_gguf_test_util.h"
#include "tests/support/tiny_llama.h"

namespace qforge::exporters::gguf {
namespace {

using layers::LlamaConfig;
using layers::LlamaForCausalLM;
using qforge::testing::bytes_of;
namespace tk = qforge::exporters::tokenizers;

const std::string kChars = " abcdefghijklmnopqrstuvwxyz.";

std::vector<std::string> char_vocab() { return qforge::testing::char_vocab(kChars); }

// A Qwen2-shaped model: q/k/v biases, GQA, every parameter (biases and norms included) random.
std::shared_ptr<LlamaForCausalLM> tiny_qwen2(bool qkv_bias = true, int64_t hidden = 32) {
  LlamaConfig c = qforge::testing::tiny_llama_shape(
      {.vocab = static_cast<int64_t>(kChars.size()), .hidden = hidden, .ffn = hidden == 32 ? 48 : 256, .context = 32});
  c.rope_theta = 1e6f;
  c.qkv_bias = qkv_bias;
  c.initializer_range = 0.3f;
  c.seed = 11;
  auto model = std::make_shared<LlamaForCausalLM>(c);
  uint32_t state = 12345;
  for (auto& [name, value] : model->state_dict()) {
    autograd::Tensor t = value;  // a handle: writes reach the parameter
    if (t.shape().ndim() != 1) continue;
    for (int64_t i = 0; i < t.numel(); ++i) {
      state = state * 1664525u + 1013904223u;
      t.data()[i] = (name.find("norm") != std::string::npos ? 1.0f : 0.0f) + static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
  }
  return model;
}


// Logits of a fixed sequence over the first kChars.size() tokens (a GGUF's SentencePiece vocabulary
// appends <unk>, <s>, </s> and byte tokens, whose rows are zeros: docs/gguf.md §4).
std::vector<float> logits_of(LlamaForCausalLM& model) {
  model.eval();
  const autograd::IndexTensor ids(autograd::Shape{1, 6}, {1, 5, 9, 0, 27, 3});
  const autograd::Tensor out = model.forward(ids).data();
  const int64_t vocab = model.config().vocab_size, n = static_cast<int64_t>(kChars.size());
  std::vector<float> first;
  for (int64_t p = 0; p < 6; ++p) first.insert(first.end(), out.data() + p * vocab, out.data() + p * vocab + n);
  return first;
}

TEST(Qwen2Gguf, BiasedModelIsWrittenAsQwen2WithHfRowOrder) {
  const auto model = tiny_qwen2();
  const LlamaGguf g = build_llama_gguf(*model, char_vocab(), LlamaFileType::kF32);
  EXPECT_EQ(g.file.find("general.architecture")->get<std::string>(), "qwen2");
  EXPECT_EQ(g.file.find("qwen2.block_count")->get<uint32_t>(), 2u);
  EXPECT_EQ(g.file.find("qwen2.attention.head_count_kv")->get<uint32_t>(), 2u);
  EXPECT_FLOAT_EQ(g.file.find("qwen2.rope.freq_base")->get<float>(), 1e6f);
  EXPECT_EQ(g.file.find("llama.block_count"), nullptr);
  const auto state = model->state_dict();
  int checked = 0;
  for (size_t i = 0; i < g.file.tensors.size(); ++i) {
    const TensorInfo& info = g.file.tensors[i];
    const std::string hf = *hf_tensor_name(info.name);
    if (hf.find("q_proj") == std::string::npos && hf.find("k_proj") == std::string::npos &&
        hf.find("v_proj") == std::string::npos)
      continue;
    // NEOX rope: no permutation, so the GGUF rows are HF's rows byte for byte.
    const autograd::Tensor& want = state.at(hf);
    ASSERT_EQ(g.tensor_bytes[i].size(), static_cast<size_t>(want.numel()) * 4) << info.name;
    EXPECT_EQ(std::memcmp(g.tensor_bytes[i].data(), want.data(), g.tensor_bytes[i].size()), 0) << info.name;
    if (info.name.ends_with(".bias")) {
      EXPECT_EQ(info.type, 0u) << info.name;  // F32
      ASSERT_EQ(info.dims.size(), 1u);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 12);  // 2 layers x q/k/v x weight/bias
}

TEST(Qwen2Gguf, ReadBackGivesTheSameLogitsBitForBit) {
  const auto model = tiny_qwen2();
  const GgufReader reader(bytes_of(build_llama_gguf(*model, char_vocab(), LlamaFileType::kF32)), "qwen2.gguf");
  const ImportedLlama back = read_llama_gguf(reader, "qwen2.gguf");
  EXPECT_TRUE(back.model->config().qkv_bias);
  EXPECT_EQ(logits_of(*back.model), logits_of(*model));
  // Without biases the same model is a plain "llama" file, whose Q/K rows are permuted and come back.
  const auto plain = tiny_qwen2(false);
  const LlamaGguf llama = build_llama_gguf(*plain, char_vocab(), LlamaFileType::kF32);
  EXPECT_EQ(llama.file.find("general.architecture")->get<std::string>(), "llama");
  const GgufReader plain_reader(bytes_of(llama), "llama.gguf");
  EXPECT_EQ(logits_of(*read_llama_gguf(plain_reader, "llama.gguf").model), logits_of(*plain));
}

// Every tensor of a qwen2 file, whatever its type, is read as its blocks decode, in HF's row order; the
// biases stay F32 and come back exactly. Dim 256, so the k-quant types are real K blocks.
TEST(Qwen2Gguf, EveryFileTypeReadsBackToItsDecodedBlocks) {
  const auto model = tiny_qwen2(true, 256);
  const auto original = model->state_dict();
  for (const LlamaFileType type : {LlamaFileType::kF16, LlamaFileType::kBF16, LlamaFileType::kQ8_0,
                                   LlamaFileType::kQ4_K_M, LlamaFileType::kQ6_K, LlamaFileType::kIQ4_NL}) {
    const LlamaGguf g = build_llama_gguf(*model, char_vocab(), type);
    const GgufReader reader(bytes_of(g), "types.gguf");
    const auto back = read_llama_gguf(reader, "types.gguf").model->state_dict();
    int quantized = 0;
    for (size_t i = 0; i < g.file.tensors.size(); ++i) {
      const TensorInfo& info = g.file.tensors[i];
      const std::string hf = *hf_tensor_name(info.name);
      const autograd::Tensor& got = back.at(hf);
      if (info.dims.size() == 1) {  // norms and biases: F32, exact
        EXPECT_EQ(info.type, 0u) << info.name;
        EXPECT_EQ(std::memcmp(got.data(), original.at(hf).data(), static_cast<size_t>(got.numel()) * 4), 0) << info.name;
        continue;
      }
      const auto& block = fakequant::ggml::block_type(static_cast<int>(info.type));
      const int64_t ne0 = static_cast<int64_t>(info.dims[0]), rows = static_cast<int64_t>(info.dims[1]);
      const int64_t row_bytes = fakequant::ggml::row_bytes(block, ne0);
      std::vector<float> decoded(static_cast<size_t>(ne0));
      quantized += block.is_quantized();
      for (int64_t r = 0; r < rows; ++r) {
        block.dequantize_row(g.tensor_bytes[i].data() + r * row_bytes, decoded.data(), ne0);
        ASSERT_EQ(std::memcmp(decoded.data(), got.data() + r * ne0, static_cast<size_t>(ne0) * 4), 0)
            << llama_file_type_name(type) << " " << info.name << " row " << r;
      }
    }
    EXPECT_EQ(quantized, type == LlamaFileType::kF16 || type == LlamaFileType::kBF16 ? 0 : 16) << llama_file_type_name(type);  // 2 x 7 + embd + output
  }
}

// An arch "llama" file with q/k/v biases (llama.cpp's llama graph loads them: create_tensor_qkv): the
// biases follow their rows through the rope permutation and are un-permuted with them.
TEST(Qwen2Gguf, BiasesOfAnAdjacentRopeFileAreUnpermuted) {
  const auto model = tiny_qwen2();
  LlamaGguf g = build_llama_gguf(*model, char_vocab(), LlamaFileType::kF32);
  GgufFile renamed;
  for (const KeyValue& kv : g.file.metadata)
    renamed.set(kv.key.starts_with("qwen2.") ? "llama." + kv.key.substr(6) : kv.key, kv.value);
  renamed.set("general.architecture", "llama");
  renamed.tensors = g.file.tensors;
  const LlamaConfig& c = model->config();
  for (size_t i = 0; i < g.file.tensors.size(); ++i) {
    const std::string& name = g.file.tensors[i].name;
    const bool q = name.find(".attn_q.") != std::string::npos, k = name.find(".attn_k.") != std::string::npos;
    if (!q && !k) continue;
    const bool bias = name.ends_with(".bias");
    const int64_t rows = static_cast<int64_t>(bias ? g.file.tensors[i].dims[0] : g.file.tensors[i].dims[1]);
    const int64_t cols = bias ? 1 : static_cast<int64_t>(g.file.tensors[i].dims[0]);
    std::vector<std::byte> permuted(g.tensor_bytes[i].size());
    permute_rope_rows(reinterpret_cast<const float*>(g.tensor_bytes[i].data()), reinterpret_cast<float*>(permuted.data()),
                      rows, cols, q ? c.num_attention_heads : c.num_key_value_heads);
    g.tensor_bytes[i] = std::move(permuted);
  }
  g.file = renamed;
  const GgufReader reader(bytes_of(g), "llama_bias.gguf");
  EXPECT_EQ(logits_of(*read_llama_gguf(reader, "llama_bias.gguf").model), logits_of(*model));
}

// Where a key's pair starts, found in the serialized bytes independently of the reader: the u64 length
// that precedes the key's text.
uint64_t key_byte(const std::vector<std::byte>& bytes, const std::string& key) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const size_t at = text.find(key);
  EXPECT_NE(at, std::string_view::npos) << key;
  return at - 8;
}

std::string read_error_of(const GgufFile& file, const std::vector<std::vector<std::byte>>& data) {
  std::vector<std::span<const std::byte>> spans(data.begin(), data.end());
  try {
    const GgufReader reader(serialize_gguf(file, spans), "bad.gguf");
    read_llama_gguf(reader, "bad.gguf");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "no error";
}

TEST(Qwen2Gguf, ErrorsNameFileKeyAndByte) {
  const LlamaGguf g = build_llama_gguf(*tiny_qwen2(), char_vocab(), LlamaFileType::kF32);
  GgufFile file = g.file;
  file.set("general.architecture", "gptj");
  std::vector<std::span<const std::byte>> spans(g.tensor_bytes.begin(), g.tensor_bytes.end());
  uint64_t at = key_byte(serialize_gguf(file, spans), "general.architecture");
  EXPECT_EQ(read_error_of(file, g.tensor_bytes),
            "gguf model: bad.gguf: key general.architecture at byte " + std::to_string(at) +
                ": 'gptj' is not one qforge reads (llama, qwen2)");
  file = g.file;
  file.set("qwen2.block_count", 2.0f);
  at = key_byte(serialize_gguf(file, spans), "qwen2.block_count");
  EXPECT_EQ(read_error_of(file, g.tensor_bytes),
            "gguf model: bad.gguf: key qwen2.block_count at byte " + std::to_string(at) + ": has type f32, expected u32");
  // A missing key has no byte.
  file = g.file;
  std::erase_if(file.metadata, [](const KeyValue& kv) { return kv.key == "qwen2.embedding_length"; });
  EXPECT_EQ(read_error_of(file, g.tensor_bytes), "gguf model: bad.gguf: key qwen2.embedding_length: missing");
  // A tensor error gives the byte its data start at.
  file = g.file;
  file.tensors[3].name = "blk.0.attn_output.bias";
  const std::vector<std::byte> bytes = serialize_gguf(file, spans);
  const GgufReader reader(bytes, "bad.gguf");
  EXPECT_EQ(read_error_of(file, g.tensor_bytes),
            "gguf model: bad.gguf: tensor 'blk.0.attn_output.bias' at byte " +
                std::to_string(reader.data_start() + reader.file().tensors[3].offset) +
                ": has no Llama counterpart (docs/gguf.md §3, §13)");
}

// A byte-level vocabulary: the 256 byte characters, three merges and a special token.
tk::BpeTokenizer small_bpe() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(tk::byte_to_unicode(static_cast<uint8_t>(b)));
  const std::string space = tk::byte_to_unicode(' ');
  tokens.insert(tokens.end(), {"he", "hel", space + "w", "<|endoftext|>"});
  const std::vector<std::pair<std::string, std::string>> merges = {{"h", "e"}, {"he", "l"}, {space, "w"}};
  tk::BpeOptions options;
  options.pre = tk::PreTokenizer::kQwen2;
  return tk::BpeTokenizer(tokens, merges, {{259, "<|endoftext|>", true, false, false}}, options);
}

TEST(Gpt2Vocabulary, KeysAndReadBack) {
  const tk::BpeTokenizer bpe = small_bpe();
  GgufFile file;
  tk::add_gpt2_vocabulary(file, bpe, 262, std::nullopt, std::nullopt);  // two ids beyond the tokenizer
  EXPECT_EQ(file.find("tokenizer.ggml.model")->get<std::string>(), "gpt2");
  EXPECT_EQ(file.find("tokenizer.ggml.pre")->get<std::string>(), "qwen2");
  const auto& tokens = file.find("tokenizer.ggml.tokens")->get<Array>().elements;
  const auto& types = file.find("tokenizer.ggml.token_type")->get<Array>().elements;
  const auto& merges = file.find("tokenizer.ggml.merges")->get<Array>().elements;
  ASSERT_EQ(tokens.size(), 262u);
  EXPECT_EQ(tokens[261].get<std::string>(), "[PAD261]");
  EXPECT_EQ(types[261].get<int32_t>(), 5);  // unused
  EXPECT_EQ(types[259].get<int32_t>(), 3);  // control
  EXPECT_EQ(types[256].get<int32_t>(), 1);
  ASSERT_EQ(merges.size(), 3u);
  EXPECT_EQ(merges[0].get<std::string>(), "h e");
  EXPECT_EQ(merges[2].get<std::string>(), tk::byte_to_unicode(' ') + " w");
  EXPECT_EQ(file.find("tokenizer.ggml.bos_token_id")->get<uint32_t>(), 259u);
  EXPECT_EQ(file.find("tokenizer.ggml.eos_token_id")->get<uint32_t>(), 259u);
  EXPECT_FALSE(file.find("tokenizer.ggml.add_bos_token")->get<bool>());
  const tk::BpeTokenizer back = tk::bpe_tokenizer_from_gguf(file, "vocab.gguf");
  for (const std::string text : {"hello world", "help<|endoftext|>hel", " w w  wh"}) {
    EXPECT_EQ(back.encode(text, false), bpe.encode(text, false)) << text;
    EXPECT_EQ(back.encode(text, true), bpe.encode(text, true)) << text;
  }
  EXPECT_EQ(bpe.encode("hello", false), (std::vector<int32_t>{257, 'l', 'o'}));
}

TEST(Gpt2Vocabulary, RefusesWhatItCannotHold) {
  tk::BpeOptions spm;
  spm.flavour = tk::BpeFlavour::kSentencePiece;
  const tk::BpeTokenizer sentencepiece({"a", "b", "ab"}, {{"a", "b"}}, {}, spm);
  GgufFile file;
  EXPECT_THROW(tk::add_gpt2_vocabulary(file, sentencepiece, 3, std::nullopt, std::nullopt), std::invalid_argument);
  tk::add_gpt2_vocabulary(file, small_bpe(), 260, std::nullopt, std::nullopt);
  file.set("tokenizer.ggml.pre", "deepseek-v3");
  const std::vector<std::byte> bytes = serialize_gguf(file, {});
  const GgufReader reader(bytes, "vocab.gguf");
  try {
    tk::bpe_tokenizer_from_gguf(reader);
    ADD_FAILURE() << "an unknown pre-tokenizer was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "gguf vocabulary: vocab.gguf: key tokenizer.ggml.pre at byte " +
                                         std::to_string(key_byte(bytes, "tokenizer.ggml.pre")) +
                                         ": 'deepseek-v3' is not a pre-tokenizer qforge implements (gpt-2, "
                                         "llama-bpe, llama3, llama-v3, smaug-bpe, qwen2, deepseek-llm, deepseek-coder, "
                                         "tekken; docs/gguf.md §14)");
  }
}

// The gpt2 vocabulary of a qwen2 model file, read back: the model has 30 rows, the tokenizer 260 tokens.
TEST(Gpt2Vocabulary, ModelFileWithBpeVocabulary) {
  const auto model = tiny_qwen2();
  const tk::BpeTokenizer bpe = small_bpe();
  LlamaExportOptions options;
  options.bpe = &bpe;
  options.eos_token_id = 259;
  const LlamaGguf g = build_llama_gguf(*model, {}, options);
  EXPECT_EQ(g.file.find("qwen2.vocab_size")->get<uint32_t>(), 260u);
  EXPECT_EQ(g.file.find("tokenizer.ggml.eos_token_id")->get<uint32_t>(), 259u);
  const GgufReader reader(bytes_of(g), "bpe.gguf");
  const ImportedLlama back = read_llama_gguf(reader, "bpe.gguf");
  EXPECT_EQ(back.model->config().vocab_size, 260);  // rows beyond the model's are zeros
  EXPECT_EQ(back.tokens.size(), 260u);
  EXPECT_EQ(logits_of(*back.model), logits_of(*model));
  for (const auto& [name, value] : back.model->state_dict())  // the rows of ids 28..259 are zeros
    if (name == "model.embed_tokens.weight" || name == "lm_head.weight")
      for (int64_t i = 28 * 32; i < value.numel(); ++i) ASSERT_EQ(value.data()[i], 0.0f) << name;
}

}  // namespace
}  // namespace qforge::exporters::gguf
