#include "trainers/study/gguf_cells.h"

#include <cstring>
#include <map>
#include <stdexcept>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "exporters/gguf/llama_type_mix.h"
#include "fakequant/formats/ggml/block_types.h"
#include "layers/quantizable.h"
#include "trainers/gguf_evaluate.h"
#include "trainers/run_folder.h"

namespace qforge::trainers {
namespace {

namespace fs = std::filesystem;
namespace gg = exporters::gguf;

// Bits per element of the file's 2-D tensors (every weight llama.cpp's mix types; norms are 1-D F32):
// what the file spends on weights, its block scales and mins included.
double file_bits_per_weight(const fs::path& file) {
  const gg::GgufReader reader{file};
  double bits = 0.0, elements = 0.0;
  for (const gg::TensorInfo& t : reader.file().tensors) {
    if (t.dims.size() != 2) continue;
    const auto& type = fakequant::ggml::block_type(static_cast<int>(t.type));
    bits += 8.0 * static_cast<double>(fakequant::ggml::row_bytes(type, static_cast<int64_t>(t.dims[0]))) * static_cast<double>(t.dims[1]);
    elements += static_cast<double>(t.dims[0]) * static_cast<double>(t.dims[1]);
  }
  if (elements == 0) throw std::runtime_error("study: " + file.string() + " has no 2-D tensors");
  return bits / elements;
}

GgufCellResult measured(const fs::path& run_for_data, const fs::path& file, std::string wrote) {
  GgufCellResult out;
  out.run = evaluate_gguf(run_for_data, file);
  out.bits_per_weight = file_bits_per_weight(file);
  out.wrote = std::move(wrote);
  return out;
}

// Every quantized weight of the trained run's forward (Quantizable::effective_weight, eval mode)
// against the file's dequantized tensor, bit for bit (the file's token rows beyond the run's
// vocabulary, a GGUF's control and byte tokens, are not the run's). Returns how many values matched.
int64_t check_file_is_trained_forward(const fs::path& dir, const fs::path& file) {
  const InferenceModel trained = restore_inference_model(dir);
  const gg::ImportedLlama imported = gg::read_llama_gguf(file);
  std::map<std::string, autograd::Tensor> in_file;
  for (const auto& [name, param] : imported.model->named_parameters()) in_file[name] = param.data();
  autograd::NoGradGuard no_grad;
  int64_t exact = 0;
  for (const auto& [name, module] : trained.model->named_modules()) {
    const auto* layer = dynamic_cast<const layers::Quantizable*>(module.get());
    if (layer == nullptr || layer->weight_quantizer() == nullptr) continue;
    const autograd::Tensor want = layer->effective_weight().data();
    const auto it = in_file.find(name + ".weight");
    if (it == in_file.end() || it->second.numel() < want.numel() ||
        std::memcmp(it->second.data(), want.data(), sizeof(float) * want.numel()) != 0) {
      throw std::runtime_error("study: " + file.string() + ": tensor '" + name + ".weight' is not the trained forward's weight of " +
                               dir.string() + " bit for bit");
    }
    exact += want.numel();
  }
  if (exact == 0) throw std::runtime_error("study: " + dir.string() + " has no GGUF-quantized weight to check");
  return exact;
}

bool plain_gguf_method(const StudyMethod& m) { return (m.ptq == "ptq" && m.qat.empty()) || (m.ptq.empty() && m.qat == "qat"); }

}  // namespace

void check_gguf_cells(const config::StudyConfig& study, const std::vector<StudyMethod>& methods, bool have_tools) {
  const std::vector<std::string> schemes(study.weight_schemes().begin(), study.weight_schemes().end());
  bool any_gguf = false;
  for (const StudyMethod& m : methods) {
    for (const std::string& scheme : study_method_schemes(m, schemes)) {
      const bool gguf = gguf_scheme_preset(scheme).has_value();
      any_gguf = any_gguf || gguf;
      const std::string what = "study.methods '" + m.label + "' on '" + scheme + "': ";
      if (m.importance && !gguf) throw std::invalid_argument(what + ":imatrix weights GGUF cells only (gguf:<file type> schemes)");
      if (gguf && !plain_gguf_method(m)) {
        throw std::invalid_argument(what + "a gguf: scheme takes ptq, ptq:imatrix, qat or qat:imatrix (the file type fixes every "
                                    "tensor's codec)");
      }
    }
  }
  for (const std::string& scheme : schemes) any_gguf = any_gguf || gguf_scheme_preset(scheme).has_value();
  if (!any_gguf) return;
  if (study.has_input()) throw std::invalid_argument("study.input: a GGUF file has no activation quantizers; drop it for gguf: schemes");
  if (study.keep_float_size() > 0) {
    throw std::invalid_argument("study.keep_float: the file type's mix types every tensor of a gguf: scheme; drop keep_float");
  }
  if (!have_tools) throw std::invalid_argument("study: gguf: schemes need the GGUF and imatrix writers (`qforge study` passes them)");
}

std::optional<std::string> gguf_scheme_preset(const std::string& scheme) {
  const std::string prefix = kGgufSchemePrefix;
  if (scheme.rfind(prefix, 0) != 0) return std::nullopt;
  try {
    return gg::llama_file_type_name(gg::parse_llama_file_type(scheme.substr(prefix.size())));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("study scheme '" + scheme + "': " + e.what());
  }
}

GgufCellResult gguf_ptq_cell(const GgufStudyTools& tools, const fs::path& float_run, const std::string& preset,
                             const std::string& imatrix, const fs::path& dir) {
  fs::create_directories(dir);
  const fs::path file = dir / kGgufCellFile;
  std::string wrote = tools.export_gguf(float_run, preset, imatrix, file);
  return measured(float_run, file, std::move(wrote));
}

GgufCellResult gguf_qat_cell(const GgufStudyTools& tools, const fs::path& dir) {
  const fs::path file = dir / kGgufCellFile;
  std::string wrote = tools.export_gguf(dir, "", "", file);
  const int64_t exact = check_file_is_trained_forward(dir, file);
  return measured(dir, file, wrote + "; " + std::to_string(exact) + " weights equal the trained forward's bit for bit");
}

std::string refused_cells_markdown(const std::vector<std::string>& lines) {
  if (lines.empty()) return "";
  std::string out = "## Refused cells\n\nPost-training: llama-quantize refuses these files without an imatrix, and so does "
                    "qforge's exporter, with the same check (llama-quant.cpp tensor_requires_imatrix). QAT: the types that "
                    "encode only with an imatrix (IQ2_XXS, IQ2_XS, IQ1_S) train only with quantization.imatrix.\n\n";
  for (const std::string& line : lines) out += "- " + line + "\n";
  return out + "\n";
}

}  // namespace qforge::trainers
