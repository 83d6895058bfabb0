// Fused blk.N.attn_qkv tensors (convert_hf_to_gguf.py --fuse-qkv; docs/gguf.md §3): a file whose q/k/v
// tensors are fused row-wise reads to the same model as the unfused file, bit for bit, in float and in
// quantized types; the QLoRA base takes each projection's rows out of the fused blocks; the reader's errors.
// The fusion here concatenates the file's tensors as the converter's torch.cat([q, k, v], dim=0) does (after its
// rope permutation, so on the file's rows); tools/llamacpp/fused_qkv.sh fuses with llama.cpp's gguf-py instead.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"
#include "exporters/gguf/llama_gguf_import.h"

namespace qforge::exporters::gguf {
namespace {

using layers::LlamaConfig;
using layers::LlamaForCausalLM;

constexpr int64_t kVocab = 40;

std::vector<std::string> vocab() {
  std::vector<std::string> v;
  for (int64_t i = 0; i < kVocab; ++i) v.push_back("t" + std::to_string(i));
  return v;
}

// Rows of 256 so Q4_K_M keeps its K types; GQA 2 so q has more rows than k and v. Biases random (not zero).
std::shared_ptr<LlamaForCausalLM> tiny(bool qkv_bias) {
  LlamaConfig c;
  c.vocab_size = kVocab;
  c.hidden_size = 256;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 256;
  c.max_position_embeddings = 32;
  c.qkv_bias = qkv_bias;
  c.initializer_range = 0.2f;
  c.seed = 3;
  auto model = std::make_shared<LlamaForCausalLM>(c);
  uint32_t state = 777;
  for (auto& [name, value] : model->state_dict()) {
    autograd::Tensor t = value;  // a handle: writes reach the parameter
    if (name.find(".bias") == std::string::npos) continue;
    for (int64_t i = 0; i < t.numel(); ++i) {
      state = state * 1664525u + 1013904223u;
      t.data()[i] = static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
    }
  }
  return model;
}

enum class Bias { kFused, kSeparate };

// `g` with each layer's attn_q/k/v.<suffix> replaced by one attn_qkv.<suffix> whose bytes are the parts' bytes
// in `order` (0 q, 1 k, 2 v), placed where attn_q was. Biases fused too unless kSeparate.
LlamaGguf fused(const LlamaGguf& g, Bias bias = Bias::kFused, std::array<int, 3> order = {0, 1, 2}) {
  LlamaGguf out;
  out.file.metadata = g.file.metadata;
  const char* parts[] = {".attn_q.", ".attn_k.", ".attn_v."};
  for (size_t i = 0; i < g.file.tensors.size(); ++i) {
    const TensorInfo& t = g.file.tensors[i];
    const bool is_bias = t.name.ends_with(".bias");
    if (is_bias && bias == Bias::kSeparate) {
      out.file.tensors.push_back(t);
      out.tensor_bytes.push_back(g.tensor_bytes[i]);
      continue;
    }
    if (t.name.find(".attn_k.") != std::string::npos || t.name.find(".attn_v.") != std::string::npos) continue;
    const size_t at = t.name.find(".attn_q.");
    if (at == std::string::npos) {
      out.file.tensors.push_back(t);
      out.tensor_bytes.push_back(g.tensor_bytes[i]);
      continue;
    }
    TensorInfo f = t;
    f.name = t.name.substr(0, at) + ".attn_qkv." + t.name.substr(at + 8);
    f.dims.back() = 0;
    std::vector<std::byte> bytes;
    for (int p : order) {
      const std::string name = t.name.substr(0, at) + parts[p] + t.name.substr(at + 8);
      for (size_t j = 0; j < g.file.tensors.size(); ++j)
        if (g.file.tensors[j].name == name) {
          f.dims.back() += g.file.tensors[j].dims.back();
          bytes.insert(bytes.end(), g.tensor_bytes[j].begin(), g.tensor_bytes[j].end());
        }
    }
    out.file.tensors.push_back(f);
    out.tensor_bytes.push_back(std::move(bytes));
  }
  return out;
}

// The file of `type` in which each layer's q and k have its v's type, as a fused attn_qkv has (llama-quant.cpp
// gives it attn_v's rule; docs/gguf.md §7): in Q4_K_M layer 1's v is Q6_K (more_bits(1, 2)), q and k Q4_K.
LlamaGguf unfused(const LlamaForCausalLM& model, LlamaFileType type) {
  const LlamaGguf mixed = build_llama_gguf(model, vocab(), type);
  LlamaExportOptions options;
  options.type = type;
  for (const TensorInfo& t : mixed.file.tensors) {
    const size_t at = t.name.find(".attn_v.weight");
    if (at == std::string::npos) continue;
    options.tensor_types[t.name.substr(0, at) + ".attn_q.weight"] = t.type;
    options.tensor_types[t.name.substr(0, at) + ".attn_k.weight"] = t.type;
  }
  return build_llama_gguf(model, vocab(), options);
}

GgufReader reader_of(const LlamaGguf& g, const std::string& source) {
  std::vector<std::span<const std::byte>> spans(g.tensor_bytes.begin(), g.tensor_bytes.end());
  return GgufReader(serialize_gguf(g.file, spans), source);
}

std::vector<float> logits_of(LlamaForCausalLM& model) {
  model.eval();
  const autograd::IndexTensor ids(autograd::Shape{1, 7}, {1, 5, 9, 0, 27, 3, 39});
  return model.forward(ids).data().to_vector();
}

int count_named(const LlamaGguf& g, const std::string& part) {
  int n = 0;
  for (const TensorInfo& t : g.file.tensors) n += t.name.find(part) != std::string::npos;
  return n;
}

std::string error_of(const LlamaGguf& g) {
  try {
    read_llama_gguf(reader_of(g, "f.gguf"), "f.gguf");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

// llama (permuted q/k rows, no biases) and qwen2 (fused biases, and separate biases beside a fused weight),
// each in F32, Q8_0 and Q4_K_M: the fused file's logits are the unfused file's, bit for bit.
TEST(FusedQkv, ReadsToTheUnfusedLogitsBitForBit) {
  for (const bool qkv_bias : {false, true}) {
    const auto model = tiny(qkv_bias);
    for (const LlamaFileType type : {LlamaFileType::kF32, LlamaFileType::kQ8_0, LlamaFileType::kQ4_K_M}) {
      const LlamaGguf plain = unfused(*model, type);
      const std::vector<float> want = logits_of(*read_llama_gguf(reader_of(plain, "plain.gguf"), "plain.gguf").model);
      for (const Bias bias : {Bias::kFused, Bias::kSeparate}) {
        if (!qkv_bias && bias == Bias::kSeparate) continue;
        const LlamaGguf f = fused(plain, bias);
        ASSERT_EQ(count_named(f, ".attn_qkv.weight"), 2);
        ASSERT_EQ(count_named(f, ".attn_qkv.bias"), qkv_bias && bias == Bias::kFused ? 2 : 0);
        ASSERT_EQ(count_named(f, ".attn_q."), qkv_bias && bias == Bias::kSeparate ? 2 : 0);
        const ImportedLlama back = read_llama_gguf(reader_of(f, "fused.gguf"), "fused.gguf");
        EXPECT_EQ(back.model->config().qkv_bias, qkv_bias);
        EXPECT_EQ(logits_of(*back.model), want) << "qkv_bias " << qkv_bias << " type " << static_cast<int>(type);
      }
    }
  }
}

// The wrong row order (k, q, v) has the right total and reads, but to another model: the test above can fail.
TEST(FusedQkv, WrongRowOrderGivesOtherLogits) {
  const auto model = tiny(false);
  const LlamaGguf plain = build_llama_gguf(*model, vocab(), LlamaFileType::kF32);
  const std::vector<float> want = logits_of(*read_llama_gguf(reader_of(plain, "p"), "p").model);
  const std::vector<float> kqv = logits_of(*read_llama_gguf(reader_of(fused(plain, Bias::kFused, {1, 0, 2}), "k"), "k").model);
  ASSERT_EQ(kqv.size(), want.size());
  float max_diff = 0.0f;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, std::abs(kqv[i] - want[i]));
  std::printf("k, q, v order: max |logit - unfused logit| %.3g\n", max_diff);
  EXPECT_GT(max_diff, 1e-2f);
}

// qlora --base FILE.gguf: each projection's rows sliced out of the fused tensor's blocks are the unfused
// file's projection, block for block (so its dequantized rows are equal).
TEST(FusedQkv, QloraBaseSlicesTheFusedBlocks) {
  for (const bool qkv_bias : {false, true}) {
    const auto model = tiny(qkv_bias);
    const LlamaGguf plain = unfused(*model, LlamaFileType::kQ4_K_M);
    const GgufReader a = reader_of(plain, "plain.gguf"), b = reader_of(fused(plain), "fused.gguf");
    for (const char* part : {"q_proj", "k_proj", "v_proj"}) {
      const std::string hf = std::string("model.layers.1.self_attn.") + part + ".weight";
      const auto want = read_llama_gguf_blocks(a, hf, model->config(), "plain.gguf");
      const auto got = read_llama_gguf_blocks(b, hf, model->config(), "fused.gguf");
      ASSERT_EQ(got->rows(), want->rows()) << hf;
      ASSERT_EQ(got->cols(), want->cols()) << hf;
      EXPECT_EQ(got->format(), want->format()) << hf;
      std::vector<float> x(static_cast<size_t>(want->rows() * want->cols())), y(x.size());
      want->dequantize_rows(0, want->rows(), x.data());
      got->dequantize_rows(0, got->rows(), y.data());
      EXPECT_EQ(x, y) << hf;
    }
  }
}

TEST(FusedQkv, ErrorsNameTheFileTheTensorAndItsByte) {
  const auto model = tiny(true);
  const LlamaGguf plain = build_llama_gguf(*model, vocab(), LlamaFileType::kF32);
  // A fused weight one row short of q + k + v (q 256, k 128, v 128 rows).
  LlamaGguf short_rows = fused(plain);
  for (size_t i = 0; i < short_rows.file.tensors.size(); ++i)
    if (short_rows.file.tensors[i].name == "blk.1.attn_qkv.weight") {
      short_rows.file.tensors[i].dims[1] -= 1;
      short_rows.tensor_bytes[i].resize(short_rows.tensor_bytes[i].size() - 256 * 4);
    }
  EXPECT_THAT(error_of(short_rows), testing::MatchesRegex(
                                        "gguf model: f\\.gguf: tensor 'blk\\.1\\.attn_qkv\\.weight' at byte [0-9]+: has ne \\[256, 511\\], "
                                        "not what the qwen2\\.\\* keys imply for model\\.layers\\.1\\.self_attn\\.q_proj\\.weight, "
                                        "k_proj and v_proj fused"));
  // A fused bias beside separate weights: llama.cpp loads the fused bias only with a fused weight.
  LlamaGguf bias_only = fused(plain, Bias::kFused);
  LlamaGguf separate_weights = plain;
  separate_weights.file.tensors.clear();
  separate_weights.tensor_bytes.clear();
  for (size_t i = 0; i < plain.file.tensors.size(); ++i)
    if (!plain.file.tensors[i].name.ends_with(".bias")) {
      separate_weights.file.tensors.push_back(plain.file.tensors[i]);
      separate_weights.tensor_bytes.push_back(plain.tensor_bytes[i]);
    }
  for (size_t i = 0; i < bias_only.file.tensors.size(); ++i)
    if (bias_only.file.tensors[i].name.find("attn_qkv.bias") != std::string::npos) {
      separate_weights.file.tensors.push_back(bias_only.file.tensors[i]);
      separate_weights.tensor_bytes.push_back(bias_only.tensor_bytes[i]);
    }
  EXPECT_THAT(error_of(separate_weights),
              testing::MatchesRegex("gguf model: f\\.gguf: tensor 'blk\\.0\\.attn_qkv\\.bias' at byte [0-9]+: is a fused bias "
                                    "beside separate attn_q/k/v weights, which llama\\.cpp does not load"));
  // A fused weight beside the separate one it replaces.
  LlamaGguf both = fused(plain);
  for (size_t i = 0; i < plain.file.tensors.size(); ++i)
    if (plain.file.tensors[i].name == "blk.0.attn_k.weight") {
      both.file.tensors.push_back(plain.file.tensors[i]);
      both.tensor_bytes.push_back(plain.tensor_bytes[i]);
    }
  EXPECT_THAT(error_of(both), testing::MatchesRegex("gguf model: f\\.gguf: tensor 'blk\\.0\\.attn_k\\.weight' at byte [0-9]+: "
                                                    "holds model\\.layers\\.0\\.self_attn\\.k_proj\\.weight, which "
                                                    "blk\\.0\\.attn_qkv\\.weight holds as well"));
}

}  // namespace
}  // namespace qforge::exporters::gguf
