#pragma once
// A read-only memory map of a whole file (POSIX mmap(2), MAP_PRIVATE, PROT_READ): readers of large model
// files (safetensors shards) decode tensors straight from the page cache, so no second copy of the
// file is made in memory. release() hands a decoded range's pages back (madvise(2) MADV_DONTNEED on a
// read-only private mapping drops them; they would be read again from the file if touched).
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace qforge::io {

class MappedFile {
 public:
  /// Maps `path`; std::runtime_error naming the file and the errno text when it cannot be opened,
  /// stat'ed or mapped. An empty file maps to an empty span.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  /// The file's bytes.
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  /// The path as given, for error messages.
  const std::string& path() const { return path_; }
  /// Drops the resident pages wholly inside [offset, offset + length) from this process (advice only).
  void release(size_t offset, size_t length) const;

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace qforge::io
