#include "exporters/hf/hf_export_source.h"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "exporters/hf/hf_model_reader.h"
#include "exporters/hf/hf_quant_import.h"
#include "exporters/tokenizers/tokenizer_json.h"

namespace qforge::exporters::hf {
namespace {

namespace fs = std::filesystem;

std::string file_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// config.json's bos_token_id / eos_token_id (an integer, or a list whose first entry generation uses
// first, as Llama 3's eos list): the ids the written config and generation_config keep.
std::optional<int64_t> token_id(const nlohmann::json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_array() && !it->empty() && it->front().is_number_integer()) return it->front().get<int64_t>();
  return std::nullopt;
}

}  // namespace

LlamaExport hf_export_source(const fs::path& dir) {
  HfModel read = read_hf_model(dir);
  LlamaExport out;
  out.model = read.model;
  const nlohmann::json config = nlohmann::json::parse(file_text(dir / "config.json"));
  out.bos_token_id = token_id(config, "bos_token_id");
  out.eos_token_id = token_id(config, "eos_token_id");
  const fs::path tokenizer = dir / "tokenizer.json";
  out.tokenizer_kind = "ids";
  if (fs::is_regular_file(tokenizer)) {
    out.tokenizer_kind = "hf";
    out.tokenizer_json = file_text(tokenizer);
    const tokenizers::BpeTokenizer bpe = tokenizers::parse_tokenizer_json(out.tokenizer_json, tokenizer.string());
    for (size_t id = 0; id < bpe.size(); ++id) out.vocabulary.push_back(bpe.token(static_cast<int32_t>(id)));
  }
  if (!read.config.quantization_config.empty()) {
    const HfQuantReader reader(read.config.quantization_config);
    const HfQuantKind kind = reader.format().kind;
    if (kind == HfQuantKind::kInteger || kind == HfQuantKind::kBnb4Bit)
      out.packed_base = read_hf_packed_weights(dir, read.config);
    else
      out.notes.push_back(std::string(reader.format().name) + " folder: its Linears are read as their dequantized "
                          "values (--quant cannot re-pack them; a float --dtype or another --quant row can)");
  }
  return out;
}

}  // namespace qforge::exporters::hf
