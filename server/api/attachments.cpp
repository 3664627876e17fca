#include "server/api/attachments.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "common/crypto.hpp"
#include "common/files.hpp"
#include "server/api/params.hpp"

namespace fleetdesk::server::api {
namespace {

constexpr std::size_t kMaxName = 200;

// How a type's bytes begin; text types are checked as UTF-8 instead.
struct Signature {
  std::string_view type;
  std::vector<std::string_view> starts;  // any of these
};

const std::vector<Signature>& Signatures() {
  using namespace std::string_view_literals;
  static const std::vector<Signature> kSignatures = {
      {"image/png", {"\x89PNG\r\n\x1a\n"sv}},
      {"image/jpeg", {"\xFF\xD8\xFF"sv}},
      {"image/gif", {"GIF87a"sv, "GIF89a"sv}},
      {"image/webp", {"RIFF"sv}},  // and "WEBP" at 8, below
      {"application/pdf", {"%PDF-"sv}},
      {"application/zip", {"PK\x03\x04"sv, "PK\x05\x06"sv}},
      {"application/gzip", {"\x1F\x8B"sv}},
      {"application/x-xz",
       {"\xFD"
        "7zXZ\x00"sv}},
      {"application/zstd", {"\x28\xB5\x2F\xFD"sv}},
  };
  return kSignatures;
}

constexpr std::array<std::string_view, 6> kTextTypes = {"text/plain",         "text/csv",
                                                        "text/markdown",      "application/json",
                                                        "application/x-yaml", "text/x-log"};

bool IsText(std::string_view type) {
  return std::find(kTextTypes.begin(), kTextTypes.end(), type) != kTextTypes.end();
}

std::string MediaType(std::string_view content_type) {
  auto end = content_type.find(';');
  std::string out(content_type.substr(0, end));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The bytes bear the type out: a binary format's signature, or text that is UTF-8 without NULs.
bool ContentMatches(std::string_view type, std::string_view content) {
  if (type == "application/octet-stream") return true;
  if (IsText(type)) {
    return content.find('\0') == std::string_view::npos && ValidUtf8(content);
  }
  for (const auto& signature : Signatures()) {
    if (signature.type != type) continue;
    const bool starts = std::any_of(signature.starts.begin(), signature.starts.end(),
                                    [&](std::string_view s) { return content.starts_with(s); });
    if (type == "image/webp")
      return starts && content.size() >= 12 && content.substr(8, 4) == "WEBP";
    return starts;
  }
  return false;
}

}  // namespace

std::vector<std::string> DefaultAttachmentTypes() {
  std::vector<std::string> out(kTextTypes.begin(), kTextTypes.end());
  for (const auto& signature : Signatures()) out.emplace_back(signature.type);
  return out;
}

bool KnownAttachmentType(std::string_view type) {
  if (type == "application/octet-stream" || IsText(type)) return true;
  return std::any_of(Signatures().begin(), Signatures().end(),
                     [&](const Signature& s) { return s.type == type; });
}

Result<std::string> CheckAttachment(const std::string& name, std::string_view content_type,
                                    std::string_view content, const AttachmentOptions& options) {
  if (name.empty()) return Invalid("name is required: ?name=FILE");
  if (name.size() > kMaxName) {
    return Invalid("name is at most " + std::to_string(kMaxName) + " bytes");
  }
  if (!ValidUtf8(name) || HasControl(name, false)) {
    return Invalid("name must be UTF-8 text without control characters");
  }
  if (name.find_first_of("/\\") != std::string::npos || name == "." || name == "..") {
    return Invalid("name is a file's name, without a path: '" + name + "'");
  }
  if (content.empty()) return Invalid("the attachment is empty");
  if (static_cast<std::int64_t>(content.size()) > options.max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "an attachment is at most " + std::to_string(options.max_bytes) +
                         " bytes; this one is " + std::to_string(content.size()));
  }
  const std::string type = MediaType(content_type);
  if (type.empty()) return Invalid("Content-Type is required: the attachment's type");
  if (std::find(options.types.begin(), options.types.end(), type) == options.types.end()) {
    std::string allowed;
    for (const auto& t : options.types) allowed += (allowed.empty() ? "" : ", ") + t;
    return Invalid("attachments of type " + type + " are not accepted; accepted: " + allowed);
  }
  if (!ContentMatches(type, content)) {
    return Invalid(IsText(type) ? "the attachment is not " + type + ": text must be UTF-8"
                                : "the attachment is not " + type +
                                      ": its first bytes are not those of that format");
  }
  return type;
}

std::string AttachmentFiles::Path(const std::string& sha256) const {
  return dir_ + "/" + sha256.substr(0, 2) + "/" + sha256;
}

Status AttachmentFiles::Put(const std::string& sha256, std::string_view content) const {
  const std::string path = Path(sha256);
  if (files::Exists(path)) return {};
  const std::string sub = dir_ + "/" + sha256.substr(0, 2);
  if (auto s = files::MakeDirectory(sub, 0750); !s) return s;
  const std::string temp = sub + "/.upload-" + crypto::RandomToken(12);
  // WriteAtomically syncs `temp`; the rename to the digest's name is the moment it exists.
  if (auto s = files::WriteAtomically(temp, std::string(content), 0640); !s) return s;
  return files::Rename(temp, path);
}

Result<std::string> AttachmentFiles::Get(const std::string& sha256) const {
  auto content = files::Read(Path(sha256));
  if (!content) {
    return MakeError(ErrorCode::kInternal,
                     "the attachment's file is missing: " + content.error().message);
  }
  if (crypto::Sha256Hex(*content) != sha256) {
    return MakeError(ErrorCode::kInternal,
                     "the attachment's file " + Path(sha256) + " no longer matches its SHA-256");
  }
  return content;
}

Status AttachmentFiles::Remove(const std::string& sha256,
                               const std::function<Result<bool>()>& used) const {
  // Another attachment with the same bytes (the usual reason to keep the file) is seen without
  // moving the file, which a download of that attachment would find missing meanwhile.
  auto shared = used();
  if (!shared) return shared.error();
  if (*shared) return {};
  const std::string path = Path(sha256);
  // Aside, under a name of this removal's own, and asked again: an upload committed before the
  // second question is seen by it, one committed after finds no file and puts it again.
  const std::string aside =
      dir_ + "/" + sha256.substr(0, 2) + "/.removing-" + crypto::RandomToken(12);
  if (std::rename(path.c_str(), aside.c_str()) != 0) {
    if (errno == ENOENT) return {};  // another removal has it
    return MakeError(ErrorCode::kInternal,
                     "cannot move " + path + " aside: " + std::strerror(errno));
  }
  auto still = used();
  if (!still || *still) {
    // Back where it was; an upload that put it again meanwhile wrote the same bytes.
    if (std::rename(aside.c_str(), path.c_str()) != 0) {
      return MakeError(ErrorCode::kInternal,
                       "cannot move " + aside + " back: " + std::strerror(errno));
    }
    if (!still) return still.error();
    return {};
  }
  if (std::remove(aside.c_str()) != 0) {
    return MakeError(ErrorCode::kInternal, "cannot remove " + aside + ": " + std::strerror(errno));
  }
  return {};
}

std::string AttachmentDisposition(const std::string& name) {
  // filename= for old clients (ASCII, quotes and backslashes replaced), filename*= (RFC 6266,
  // RFC 8187) with the name as uploaded.
  std::string ascii;
  std::string encoded;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : name) {
    ascii += c < 0x80 && c != '"' && c != '\\' ? static_cast<char>(c) : '_';
    if (std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 15];
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace fleetdesk::server::api
