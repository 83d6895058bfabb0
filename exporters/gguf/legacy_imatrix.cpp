#include "exporters/gguf/legacy_imatrix.h"

#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "io/read_error.h"

namespace qforge::exporters::gguf {

namespace {

static_assert(std::endian::native == std::endian::little, "the legacy imatrix file is little-endian");

void append_bytes(std::vector<std::byte>& out, const void* data, size_t count) {
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + count);
}

void append_i32(std::vector<std::byte>& out, int32_t x) { append_bytes(out, &x, sizeof x); }

int32_t checked_i32(size_t n, const std::string& what) {
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw std::invalid_argument("legacy imatrix: " + what + " " + std::to_string(n) + " exceeds int32");
  }
  return static_cast<int32_t>(n);
}

// Bounds-checked little-endian reads; every failure names the file, the field and the byte offset.
class LegacyCursor {
 public:
  LegacyCursor(std::span<const std::byte> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  [[noreturn]] void fail(const std::string& field, size_t at, const std::string& what) const {
    io::throw_read_error("imatrix", source_, field, at, what);
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  void need(size_t count, const std::string& field) const {
    if (count > remaining()) {
      fail(field, pos_, "needs " + std::to_string(count) + " bytes, only " + std::to_string(remaining()) + " left");
    }
  }
  int32_t read_i32(const std::string& field) {
    need(4, field);
    int32_t x;
    std::memcpy(&x, bytes_.data() + pos_, 4);
    pos_ += 4;
    return x;
  }
  // A length-prefixed byte string whose length must be in [min_length, bytes left].
  std::string read_string(const std::string& field, int32_t min_length) {
    const size_t at = pos_;
    const int32_t length = read_i32(field + " length");
    if (length < min_length || static_cast<size_t>(length) > remaining()) {
      fail(field + " length", at, std::to_string(length) + " not in " + std::to_string(min_length) + ".." +
                                      std::to_string(remaining()) + " (bytes left)");
    }
    std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<size_t>(length));
    pos_ += static_cast<size_t>(length);
    return text;
  }
  std::vector<float> read_floats(const std::string& field, int32_t count) {
    const size_t bytes = static_cast<size_t>(count) * sizeof(float);
    need(bytes, field);
    std::vector<float> values(static_cast<size_t>(count));
    std::memcpy(values.data(), bytes_.data() + pos_, bytes);
    pos_ += bytes;
    return values;
  }

 private:
  std::span<const std::byte> bytes_;
  const std::string& source_;
  size_t pos_ = 0;
};

LegacyImatrixEntry parse_entry(LegacyCursor& in, int32_t index) {
  const std::string field = "entry " + std::to_string(index);
  LegacyImatrixEntry entry;
  entry.name = in.read_string(field + " name", 1);
  const std::string named = field + " ('" + entry.name.substr(0, 64) + "')";
  entry.ncall = in.read_i32(named + " ncall");
  const size_t nval_at = in.pos();
  const int32_t nval = in.read_i32(named + " nval");
  // llama-quantize: "failed reading number of values" for nval < 1.
  if (nval < 1 || static_cast<size_t>(nval) > in.remaining() / sizeof(float)) {
    in.fail(named + " nval", nval_at, std::to_string(nval) + " values not in 1.." +
                                          std::to_string(in.remaining() / sizeof(float)) + " (bytes left / 4)");
  }
  entry.values = in.read_floats(named + " values", nval);
  return entry;
}

}  // namespace

std::vector<std::byte> serialize_legacy_imatrix(const LegacyImatrix& imatrix) {
  if (imatrix.entries.empty()) throw std::invalid_argument("legacy imatrix: no entries (llama-quantize rejects the file)");
  std::vector<std::byte> out;
  append_i32(out, checked_i32(imatrix.entries.size(), "entry count"));
  for (const LegacyImatrixEntry& e : imatrix.entries) {
    if (e.name.empty()) throw std::invalid_argument("legacy imatrix: an entry has an empty name");
    if (e.values.empty()) throw std::invalid_argument("legacy imatrix: entry '" + e.name + "' has no values");
    append_i32(out, checked_i32(e.name.size(), "name length of '" + e.name + "'"));
    append_bytes(out, e.name.data(), e.name.size());
    append_i32(out, e.ncall);
    append_i32(out, checked_i32(e.values.size(), "value count of '" + e.name + "'"));
    append_bytes(out, e.values.data(), e.values.size() * sizeof(float));
  }
  if (imatrix.has_trailer) {
    append_i32(out, imatrix.last_call);
    append_i32(out, checked_i32(imatrix.dataset.size(), "dataset name length"));
    append_bytes(out, imatrix.dataset.data(), imatrix.dataset.size());
  }
  return out;
}

LegacyImatrix parse_legacy_imatrix(std::span<const std::byte> bytes, const std::string& source) {
  LegacyCursor in(bytes, source);
  const int32_t n_entries = in.read_i32("n_entries");
  // Each entry takes at least 4 + 1 + 4 + 4 + 4 bytes: bound the count before reserving.
  constexpr size_t kMinEntryBytes = 17;
  if (n_entries < 1 || static_cast<size_t>(n_entries) > in.remaining() / kMinEntryBytes) {
    in.fail("n_entries", 0, std::to_string(n_entries) + " not in 1.." + std::to_string(in.remaining() / kMinEntryBytes) +
                                " (llama-quantize needs at least one entry; each takes >= 17 bytes)");
  }
  LegacyImatrix imatrix;
  imatrix.entries.reserve(static_cast<size_t>(n_entries));
  for (int32_t i = 0; i < n_entries; ++i) imatrix.entries.push_back(parse_entry(in, i));
  // The trailer is optional (llama-quantize reads it only when bytes remain), but if present it is whole.
  imatrix.has_trailer = in.remaining() > 0;
  if (imatrix.has_trailer) {
    imatrix.last_call = in.read_i32("trailer last_call");
    imatrix.dataset = in.read_string("trailer dataset", 0);
    if (in.remaining() > 0) in.fail("end of file", in.pos(), std::to_string(in.remaining()) + " unexpected bytes after the trailer");
  }
  return imatrix;
}

std::map<std::string, std::vector<float>> legacy_imatrix_importance(const LegacyImatrix& imatrix) {
  std::map<std::string, std::vector<float>> importance;
  for (const LegacyImatrixEntry& e : imatrix.entries) {
    std::vector<float>& values = importance[e.name];
    values = e.values;
    if (e.ncall > 0) {
      for (float& v : values) v /= static_cast<float>(e.ncall);
    }
  }
  return importance;
}

}  // namespace qforge::exporters::gguf
