// Small file helpers with the durability the state directories need.
#pragma once

#include <string>

#include "common/result.hpp"

namespace fleetdesk::files {

Result<std::string> Read(const std::string& path);

// Writes to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs the
// directory, so a crash leaves either the old or the new content, never a torn file.
Status WriteAtomically(const std::string& path, const std::string& content, unsigned mode);

// Renames `from` over `to` and fsyncs the directory, so the rename survives a crash.
Status Rename(const std::string& from, const std::string& to);

// Creates `path` and its parents if missing, then sets `mode` on `path` itself.
Status MakeDirectory(const std::string& path, unsigned mode);

bool Exists(const std::string& path);

// An exclusive advisory lock (flock) on a file, held until destroyed. Two servers on one data
// directory, or a restore under a running server, would corrupt it; the lock refuses both.
class ExclusiveLock {
 public:
  // Fails at once (kFailedPrecondition) when another process holds it.
  static Result<ExclusiveLock> Acquire(const std::string& path);
  ExclusiveLock(ExclusiveLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ExclusiveLock& operator=(ExclusiveLock&&) = delete;
  ExclusiveLock(const ExclusiveLock&) = delete;
  ~ExclusiveLock();

 private:
  explicit ExclusiveLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace fleetdesk::files
