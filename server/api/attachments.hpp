// Files attached to tickets: what the server accepts (size, a name that is only a name, a content
// type the bytes bear out) and where their bytes live when not in the database: a directory of
// files named by their SHA-256.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::server::api {

// The content types accepted unless `tickets.attachment_types` says otherwise: logs and text,
// screenshots, documents and archives.
std::vector<std::string> DefaultAttachmentTypes();
// Whether the server can check `type` against the bytes (application/octet-stream, which takes
// any bytes, is allowed when configured).
bool KnownAttachmentType(std::string_view type);

struct AttachmentOptions {
  std::int64_t max_bytes = 10 << 20;
  std::vector<std::string> types = DefaultAttachmentTypes();
  // Where the bytes go; empty: in the database.
  std::string dir;
};

// The media type of an upload (the Content-Type without parameters, lower case) once `name`,
// `content_type` and `content` pass: a name without a path or control characters; a type in
// `options.types` that the content's first bytes (or, for text, its encoding) bear out. Errors
// (kInvalidArgument, kResourceExhausted for size) say which check failed.
Result<std::string> CheckAttachment(const std::string& name, std::string_view content_type,
                                    std::string_view content, const AttachmentOptions& options);

// Content-addressed files: `dir`/ab/abcdef..., written once, durably, and checked when read.
class AttachmentFiles {
 public:
  explicit AttachmentFiles(std::string dir) : dir_(std::move(dir)) {}
  // Stores `content` under `sha256` (its hex digest) unless it is there already: written to a
  // temporary file of its own, synced, then renamed, so a crash or a second upload of the same
  // bytes never leaves a torn file under the name.
  Status Put(const std::string& sha256, std::string_view content) const;
  // kInternal when the file is missing or its bytes no longer match their digest.
  Result<std::string> Get(const std::string& sha256) const;
  // Removes the file under `sha256` unless `used` says an attachment still has its bytes there,
  // asked before and again after the file is moved aside: an upload of the same bytes may commit
  // its row at any moment, and either finds the file or puts it again after its commit. A file
  // nobody removes (two removals at once, a crash) stays, unlisted.
  Status Remove(const std::string& sha256, const std::function<Result<bool>()>& used) const;

 private:
  std::string Path(const std::string& sha256) const;
  std::string dir_;
};

// A Content-Disposition header that makes browsers download `name` rather than show it.
std::string AttachmentDisposition(const std::string& name);

}  // namespace fleetdesk::server::api
