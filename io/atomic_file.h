#pragma once
// Replacing a file all at once: readers see either the previous file or the complete new one, and a
// crash or kill at any moment leaves the previous file in place.
//
// How: the bytes go to a temporary file in the same directory, "<name>.tmp.<pid>.<n>", created with
// O_CREAT | O_EXCL so two writers (threads or processes) never share one. It is flushed, checked,
// fsync(2)ed, then rename(2)d over `path`, and the directory is fsync(2)ed so the new name survives a
// power loss too. POSIX rename(2): "If the link named by the new argument exists, it shall be removed
// and old renamed to new. In this case, a link named new shall remain visible to other threads
// throughout the renaming operation and refer either to the file referred to by new or old before the
// operation began." That holds within one file system, hence the temporary sits next to `path`.
//
// On any failure (the callback throws, a write/fsync/close/rename fails) the temporary is removed and
// `path` keeps its previous content, bit for bit. A process killed mid-write leaves its temporary
// behind; the next write of the same `path` removes such leftovers (see remove_stale_temporaries).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string_view>

namespace qforge::io {

// Writes `path` with what `write` puts on the stream (binary, nothing translated). Exceptions from
// `write` are rethrown unchanged after the cleanup; I/O failures throw std::runtime_error whose message
// starts with `path` and gives the cause with its errno text, e.g.
// "/x/model.gguf: cannot create temporary model.gguf.tmp.41.0: No such file or directory".
// The directory must exist. Safe to call from several threads, also for the same `path`.
void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write);

// The same for a payload already in memory.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

// Removes temporaries of `path` left by writers that died mid-write: "<name>.tmp" (the fixed name
// qforge used before) and "<name>.tmp.<pid>.<n>" whose process no longer exists on this machine.
// Temporaries of live processes, this one included, are kept. Errors are ignored: a leftover costs
// disk space, never correctness. write_file_atomically calls it first; returns how many it removed.
size_t remove_stale_temporaries(const std::filesystem::path& path);

}  // namespace qforge::io
