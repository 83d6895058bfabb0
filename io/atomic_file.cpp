// Atomic file replacement (atomic_file.h): temporary + fsync + rename(2) + directory fsync.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <vector>

namespace qforge::io {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int error) {
  throw std::runtime_error(path.string() + ": " + what + (error != 0 ? ": " + std::string(std::strerror(error)) : ""));
}

// A std::streambuf over a file descriptor. std::ofstream cannot open with O_EXCL nor hand out its
// descriptor for fsync, and it drops errno; this keeps the first write(2) error for the message.
class FdOutBuf : public std::streambuf {
 public:
  explicit FdOutBuf(int fd) : fd_(fd), buffer_(size_t{1} << 16) { reset(); }
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (!drain()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  // Large blocks (tensor data) go straight to write(2) instead of through the buffer.
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (n < epptr() - pptr()) {
      std::memcpy(pptr(), s, static_cast<size_t>(n));
      pbump(static_cast<int>(n));
      return n;
    }
    return drain() && write_all(s, static_cast<size_t>(n)) ? n : 0;
  }
  int sync() override { return drain() ? 0 : -1; }

 private:
  void reset() { setp(buffer_.data(), buffer_.data() + buffer_.size()); }
  bool drain() {
    const size_t n = static_cast<size_t>(pptr() - pbase());
    reset();
    return write_all(buffer_.data(), n);
  }
  bool write_all(const char* p, size_t n) {
    while (error_ == 0 && n > 0) {
      const ssize_t written = ::write(fd_, p, n);
      if (written < 0) {
        if (errno != EINTR) error_ = errno;
        continue;
      }
      p += written;
      n -= static_cast<size_t>(written);
    }
    return error_ == 0;
  }

  int fd_;
  std::vector<char> buffer_;
  int error_ = 0;
};

std::filesystem::path directory_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

// "<name>.tmp.<pid>.<n>", created exclusively; n counts per process so threads never collide.
int create_temporary(const std::filesystem::path& path, std::filesystem::path& temporary) {
  static std::atomic<unsigned long> counter{0};
  const std::string prefix = path.filename().string() + ".tmp." + std::to_string(::getpid()) + ".";
  for (int attempt = 0;; ++attempt) {
    temporary = directory_of(path) / (prefix + std::to_string(counter++));
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST || attempt == 100) fail(path, "cannot create temporary " + temporary.filename().string(), errno);
  }
}

// The rename is durable only once the directory entry is on disk. EINVAL: the file system cannot
// sync directories (POSIX fsync: "fildes does not refer to a file on which this operation is possible").
void sync_directory(const std::filesystem::path& path) {
  const int fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(path, "replaced, but cannot open its directory to fsync", errno);
  const int status = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (status != 0 && error != EINVAL) fail(path, "replaced, but fsync of its directory failed", error);
}

// Writes, checks and fsyncs the temporary, then renames it over `path`. Closes `fd` in every case.
void write_and_rename(const std::filesystem::path& path, const std::filesystem::path& temporary, int fd,
                      const std::function<void(std::ostream&)>& write) {
  struct Closer {
    int& fd;
    ~Closer() { if (fd >= 0) ::close(fd); }
  } closer{fd};
  const std::string name = temporary.filename().string();
  {
    FdOutBuf buffer(fd);
    std::ostream out(&buffer);
    try {
      write(out);
    } catch (...) {
      // A serializer that gives up on a failed stream (Boost's "output stream error") hides the cause:
      // the write(2) error (ENOSPC, EIO, ...) is the message then; other exceptions pass unchanged.
      if (buffer.error() != 0) fail(path, "write to " + name + " failed", buffer.error());
      throw;
    }
    out.flush();
    if (!out) fail(path, "write to " + name + " failed" + (buffer.error() == 0 ? " (stream error)" : ""), buffer.error());
  }
  if (::fsync(fd) != 0) fail(path, "fsync of " + name + " failed", errno);
  const int status = ::close(fd);
  fd = -1;
  if (status != 0) fail(path, "close of " + name + " failed", errno);
  if (::rename(temporary.c_str(), path.c_str()) != 0) fail(path, "cannot rename " + name + " over it", errno);
}

// True for "<pid>.<n>" with a pid that is not this process and names no live process.
bool dead_writer_suffix(const std::string& suffix) {
  const size_t dot = suffix.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == suffix.size()) return false;
  if (suffix.find_first_not_of("0123456789.") != std::string::npos || suffix.find('.', dot + 1) != std::string::npos)
    return false;
  if (dot > 9) return false;  // pid_t holds at most 2^22 on Linux; longer is not ours
  const pid_t pid = static_cast<pid_t>(std::stol(suffix.substr(0, dot)));
  return pid > 0 && pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
}

}  // namespace

size_t remove_stale_temporaries(const std::filesystem::path& path) {
  const std::string legacy = path.filename().string() + ".tmp";
  std::error_code error;
  std::filesystem::directory_iterator it(directory_of(path), error), end;
  std::vector<std::filesystem::path> stale;
  for (; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, legacy.size(), legacy) != 0) continue;
    if (name.size() == legacy.size() || (name[legacy.size()] == '.' && dead_writer_suffix(name.substr(legacy.size() + 1))))
      stale.push_back(it->path());
  }
  size_t removed = 0;
  for (const auto& p : stale) removed += std::filesystem::remove(p, error) ? 1 : 0;
  return removed;
}

void write_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& write) {
  remove_stale_temporaries(path);
  std::filesystem::path temporary;
  const int fd = create_temporary(path, temporary);
  try {
    write_and_rename(path, temporary, fd, write);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(path);
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  });
}

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  write_file_atomically(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

}  // namespace qforge::io
