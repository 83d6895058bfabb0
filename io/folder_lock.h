#pragma once
// One writer per folder: an exclusive flock(2) on "<folder>/.lock", held for the lock's lifetime, so a
// second `qforge train` on the same run folder refuses instead of interleaving its checkpoints and
// metrics with the first's (issue 19). flock locks belong to the open file description: the kernel
// releases them when the process exits, also on SIGKILL, so a killed run never leaves a stale lock
// (the .lock file itself stays, empty and harmless). Advisory: only qforge's own writers take it.
#include <filesystem>

namespace qforge::io {

class FolderLock {
 public:
  // Creates `folder` if needed and takes the lock without waiting; std::runtime_error naming the folder
  // when another process holds it ("<folder> is in use by another qforge process ...") or the lock file
  // cannot be opened.
  explicit FolderLock(const std::filesystem::path& folder);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace qforge::io
