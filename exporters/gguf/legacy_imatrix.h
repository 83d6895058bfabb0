#pragma once
// llama.cpp's legacy importance-matrix file (".dat", `llama-imatrix --output-format dat`;
// docs/gguf.md §8). Little-endian, no header or alignment:
//   i32 n_entries (>= 1)
//   per entry: i32 name_len, name bytes (no NUL), i32 ncall, i32 nval (>= 1), f32 values[nval]
//   trailer (optional; llama-imatrix always writes it): i32 last_call (chunks processed),
//                                                      i32 len, dataset path bytes
// What a value is (tools/imatrix/imatrix.cpp, save_imatrix_legacy): (Σx² / tokens) · ncall with
// ncall = ceil(tokens / chunk_size), i.e. a mean of squares scaled by the number of chunks; a matrix
// that saw no token stores 1. llama-quantize (tools/quantize/quantize.cpp, load_legacy_imatrix)
// divides every value by ncall when ncall > 0 and uses it as is otherwise: the per-column importance.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace qforge::exporters::gguf {

struct LegacyImatrixEntry {
  std::string name;  // GGUF weight name, "blk.0.attn_q.weight"
  int32_t ncall = 0;
  std::vector<float> values;  // mean x² per column times ncall (see above)
  bool operator==(const LegacyImatrixEntry&) const = default;
};

struct LegacyImatrix {
  std::vector<LegacyImatrixEntry> entries;  // file order (llama-imatrix writes them sorted by name)
  bool has_trailer = true;
  int32_t last_call = 0;  // chunks the matrix was computed on
  std::string dataset;    // calibration text path
  bool operator==(const LegacyImatrix&) const = default;
};

// The exact bytes of the file. std::invalid_argument for no entries, an empty name or an empty value
// list (llama-quantize rejects those files) or a count beyond int32.
std::vector<std::byte> serialize_legacy_imatrix(const LegacyImatrix& imatrix);

// Parses a whole file. Every length and count is checked against the bytes left before anything is
// allocated; errors are std::runtime_error "imatrix: <source>: entry <i> ('<name>') <field> at byte
// <offset>: ...". Bytes after a complete trailer are an error (a corrupted or foreign file).
LegacyImatrix parse_legacy_imatrix(std::span<const std::byte> bytes, const std::string& source);

// Per-column importance by name, exactly as llama-quantize computes it: values / ncall (float
// division) when ncall > 0, else the values unchanged. A repeated name keeps its last entry, as
// llama-quantize's map does.
std::map<std::string, std::vector<float>> legacy_imatrix_importance(const LegacyImatrix& imatrix);

}  // namespace qforge::exporters::gguf
