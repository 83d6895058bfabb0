#pragma once
// Pre-tokenized corpora as nanoGPT and llm.c write them.
//  - nanoGPT (data/*/prepare.py): a flat array of little-endian uint16 ids, `train.bin`/`val.bin`.
//  - llm.c (dev/data/data_common.py, write_datafile): a header of 256 little-endian int32
//    (header[0] magic 20240520 for GPT-2 uint16 ids or 20240801 for Llama-3 uint32 ids,
//    header[1] version 1, header[2] token count), then the ids.
//  - flat uint32, for vocabularies above 65536 without llm.c's header.
#include <cstdint>
#include <string>

#include "data/tokenizer.h"

namespace qforge::data {

enum class TokenFormat {
  kAuto,          // by extension: .u16/.uint16 -> kUint16, .u32/.uint32 -> kUint32, .bin -> an
                  // llm.c header when the file starts with one, else nanoGPT's flat uint16
  kUint16,        // flat little-endian uint16
  kUint32,        // flat little-endian uint32
  kLlmcUint16,    // llm.c header, magic 20240520, uint16 ids
  kLlmcUint32,    // llm.c header, magic 20240801, uint32 ids
};

inline constexpr int32_t kLlmcMagicUint16 = 20240520;
inline constexpr int32_t kLlmcMagicUint32 = 20240801;
inline constexpr int64_t kLlmcHeaderInts = 256;

// The concrete format of `path` for kAuto (reads the first bytes of .bin files); any other
// format is returned unchanged. Throws std::invalid_argument naming the file for an unknown
// extension.
TokenFormat resolve_token_format(const std::string& path, TokenFormat format);

// Throws std::runtime_error naming the file for: a missing file, a flat file whose size is not
// a multiple of the id width, an llm.c header with a bad magic/version or a count that
// disagrees with the file size.
TokenIds read_token_file(const std::string& path, TokenFormat format = TokenFormat::kAuto);

// Writes `ids` in `format` (kAuto resolves by extension; .bin writes flat uint16). Throws
// std::invalid_argument when an id does not fit a uint16 format.
void write_token_file(const std::string& path, const TokenIds& ids, TokenFormat format = TokenFormat::kAuto);

}  // namespace qforge::data
