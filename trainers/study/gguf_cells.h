#pragma once
// The study's GGUF rows: weight scheme "gguf:<file type>" (a row of the llama file-type table,
// exporters/gguf/llama_type_mix.h: "gguf:Q3_K_M", "gguf:IQ2_XS", ...) is llama.cpp's whole per-tensor mix
// of that file type, and each cell is a GGUF file, evaluated as a file on the study's validation data:
//   ptq          the float run written in that file type, as llama-quantize would write it (qforge's
//                encoders are byte-identical to llama-quantize's per block; docs/gguf.md §6-§7)
//   ptq:imatrix  the same, weighted by the float run's importance matrix (`qforge imatrix` on its training
//                split, llama-quantize --imatrix); a file type llama.cpp refuses without one (IQ2_XS) makes
//                "ptq" a refused cell, reported as such
//   qat          format-exact QAT (quantization.preset, trainers/gguf_qat.h) from the float run, exported
//                in its trained types; the file equals the trained forward bit for bit (checked per cell)
//   qat:imatrix  the same with quantization.imatrix = that importance matrix (forward and export weighted)
// Writing GGUF and imatrix files is the exporters' and the CLI's business (trainers reads GGUF only), so
// the study is handed the two writers (GgufStudyTools) by its caller: `qforge study` passes the very code
// `qforge imatrix` and `qforge export --format gguf` run.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "trainers/run.h"
#include "trainers/run_config.h"
#include "trainers/study/study_method.h"

namespace qforge::trainers {

struct GgufStudyTools {
  // Writes the importance matrix of the language-model run `run_dir` over `chunks` chunks of its
  // training split to `out` (.gguf).
  std::function<void(const std::filesystem::path& run_dir, int64_t chunks, const std::filesystem::path& out)> imatrix;
  // Writes the run's model as a GGUF file of `file_type` ("": the run's preset), weighted by the
  // imatrix file `imatrix` ("": none); returns the exporter's "wrote ..." line. Throws llama-quantize's
  // refusal (std::invalid_argument) for a file type that needs an imatrix it was not given.
  std::function<std::string(const std::filesystem::path& run_dir, const std::string& file_type, const std::string& imatrix,
                            const std::filesystem::path& out)>
      export_gguf;
};

inline constexpr const char* kGgufSchemePrefix = "gguf:";
// The file a GGUF cell writes in its folder.
inline constexpr const char* kGgufCellFile = "model.gguf";

// "gguf:q3_k_m" -> "Q3_K_M" (the table's spelling); std::nullopt for a scheme without the prefix;
// std::invalid_argument naming the scheme and listing the table for a file type it does not have.
std::optional<std::string> gguf_scheme_preset(const std::string& scheme);

// The grid's GGUF cells before anything runs: every gguf: scheme names a file type of the table, the
// methods on them are ptq, ptq:imatrix, qat or qat:imatrix (no estimator, registry method or QAT start:
// the file type fixes every tensor's codec), ":imatrix" appears on gguf: schemes only, and neither
// `input` nor `keep_float` is set (a GGUF file has no activation quantizers, and the mix types every
// tensor). `have_tools`: the caller passed GgufStudyTools. std::invalid_argument naming what is wrong.
void check_gguf_cells(const config::StudyConfig& study, const std::vector<StudyMethod>& methods, bool have_tools);

// What a GGUF cell measured on its file.
struct GgufCellResult {
  RunResult run;                  // evaluate_gguf of the file on the run's validation data
  double bits_per_weight = 0.0;   // the file's bits over the elements of its 2-D (weight) tensors
  std::string wrote;              // the exporter's line
};

// A post-training cell: the float run written as a `preset` file into dir/model.gguf (weighted by
// `imatrix` when not empty), evaluated on the float run's validation data.
GgufCellResult gguf_ptq_cell(const GgufStudyTools& tools, const std::filesystem::path& float_run, const std::string& preset,
                             const std::string& imatrix, const std::filesystem::path& dir);

// A trained format-exact QAT run `dir` exported in its trained types into dir/model.gguf, every 2-D
// weight of the file checked bit for bit against the run's trained forward (std::runtime_error naming
// the first that differs), then evaluated.
GgufCellResult gguf_qat_cell(const GgufStudyTools& tools, const std::filesystem::path& dir);

// "ptq"'s refusal as a report section: one line per refused cell, or "" when none.
std::string refused_cells_markdown(const std::vector<std::string>& lines);

}  // namespace qforge::trainers
