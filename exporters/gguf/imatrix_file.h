#pragma once
// llama.cpp importance matrices (imatrix): the statistics llama-imatrix collects, both of its file
// formats, and the per-column importance llama-quantize derives from them (docs/gguf.md §8-§9).
//
// GGUF imatrix (current default of llama-imatrix, tools/imatrix/imatrix.cpp save_imatrix):
//   general.type = "imatrix", imatrix.datasets (string[]), imatrix.chunk_count (u32),
//   imatrix.chunk_size (u32) — llama-quantize refuses a file without any of the three imatrix keys;
//   per weight, in name order: "<name>.in_sum2" F32 [ne0, n_mat] (Σx² per input column),
//   "<name>.counts" F32 [1, n_mat] (tokens seen), and in newer builds "<name>.in_sum" F32 [ne0, n_mat]
//   (Σx, ignored by quantize). Trailing 1-dims are dropped on disk (gguf.cpp writes ggml_n_dims), so a
//   dense weight has in_sum2 [ne0] and counts [1].
//   Importance (tools/quantize/quantize.cpp load_imatrix): in_sum2 / count per matrix, 1 where the
//   count is not > 0.
// Legacy ".dat": exporters/gguf/legacy_imatrix.h.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"
#include "exporters/gguf/legacy_imatrix.h"

namespace qforge::exporters::gguf {

struct ImatrixEntry {
  std::vector<float> in_sum2;  // Σx² per input column: n_mat consecutive blocks of ne0
  std::vector<float> counts;   // tokens per matrix, n_mat values (1 for a dense weight)
  std::vector<float> in_sum;   // Σx per column (same shape as in_sum2); empty when not recorded
  bool operator==(const ImatrixEntry&) const = default;
};

struct Imatrix {
  std::map<std::string, ImatrixEntry> entries;  // by GGUF weight name ("blk.0.attn_q.weight")
  std::vector<std::string> datasets;            // calibration data names
  uint32_t chunk_count = 0;                     // chunks of chunk_size tokens processed
  uint32_t chunk_size = 0;                      // tokens per chunk (llama-imatrix: n_ctx / n_parallel)
  bool operator==(const Imatrix&) const = default;
};

// Throws std::invalid_argument naming the entry when counts is empty, in_sum2 is not a positive
// multiple of counts.size(), or in_sum is neither empty nor the size of in_sum2.
void validate_imatrix_entry(const std::string& name, const ImatrixEntry& entry);

// ---- GGUF form ----
std::vector<std::byte> serialize_gguf_imatrix(const Imatrix& imatrix);
// Parses a GGUF imatrix (the bounds-checked GGUF reader, then: the three imatrix keys with their
// types, F32 tensors, in_sum2 and counts paired, counts = in_sum2's dims[1]). Other tensors and keys
// are ignored, as llama-quantize does. Errors: std::runtime_error naming `source` and the tensor/key.
Imatrix parse_gguf_imatrix(std::span<const std::byte> bytes, const std::string& source);
std::map<std::string, std::vector<float>> gguf_imatrix_importance(const Imatrix& imatrix);

// The legacy file llama-imatrix would write for the same statistics (save_imatrix_legacy): entries
// with no token at all are dropped; ncall = ceil(max count / chunk_size); values =
// (in_sum2 / count) · ncall (1 where the count is 0); trailer last_call = chunk_count and dataset =
// the last dataset. std::invalid_argument when chunk_size is 0 or nothing is left.
LegacyImatrix to_legacy_imatrix(const Imatrix& imatrix);

// ---- files ----
enum class ImatrixFormat { kGguf, kLegacy };
// From the extension: ".gguf" -> GGUF, ".dat" -> legacy; std::invalid_argument otherwise.
ImatrixFormat imatrix_format_for_path(const std::filesystem::path& path);

// Writes `imatrix` in the format the extension names (legacy via to_legacy_imatrix), with
// io::write_file_atomically.
void write_imatrix(const std::filesystem::path& path, const Imatrix& imatrix);
void write_legacy_imatrix(const std::filesystem::path& path, const LegacyImatrix& imatrix);

// The importance vectors llama-quantize would pass to its quantizers, by GGUF weight name. Like
// llama-quantize, the format comes from the content: a file starting with "GGUF" is a GGUF imatrix,
// anything else is read as legacy. Errors name the file.
std::map<std::string, std::vector<float>> read_imatrix(const std::filesystem::path& path);

// read_imatrix for quantizing (`qforge export --imatrix`, `quantize-gguf --imatrix`): non-finite values
// are rejected as llama-quantize does, naming the file, entry and column.
std::map<std::string, std::vector<float>> read_export_importance(const std::filesystem::path& path);

// What llama-quantize records of an imatrix (tools/quantize/quantize.cpp load_imatrix, kept as
// quantize.imatrix.dataset / chunks_count): the first dataset ("" = none) and the chunk count (legacy:
// the trailer's last_call; 0 without a trailer).
struct ImatrixProvenance {
  std::string dataset;
  int64_t chunks = 0;
};
ImatrixProvenance read_imatrix_provenance(const std::filesystem::path& path);

// llama-quantize's record of the imatrix a file was quantized with (tools/quantize/quantize.cpp, docs/gguf.md
// §9): quantize.imatrix.file (the path as given), .dataset (when known), .entries_count, .chunks_count
// (when > 0); strings cut to 127 bytes. Written by quantize-gguf and by `export --imatrix` alike.
struct ImatrixRecord {
  std::string file;
  ImatrixProvenance provenance;
  size_t entries = 0;
};
ImatrixRecord imatrix_record(const std::string& path, size_t entries);
// Moves the record's keys to the end of `file`'s metadata, as gguf_set_val_* (remove, append) leaves them.
void append_imatrix_record(GgufFile& file, const ImatrixRecord& record);

// Whole-file readers (round trips, inspection).
Imatrix read_gguf_imatrix(const std::filesystem::path& path);
LegacyImatrix read_legacy_imatrix(const std::filesystem::path& path);

}  // namespace qforge::exporters::gguf
