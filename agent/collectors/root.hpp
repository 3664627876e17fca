// Reading the host's files under a root path: "/" in production, a fixture tree in tests. Every
// collector goes through this, so a test can point the whole agent at a captured machine.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetdesk::agent::collectors {

class Root {
 public:
  explicit Root(std::string root) : root_(root == "/" ? std::string() : std::move(root)) {}

  // True when the root is the live system, where system calls (statvfs, getifaddrs) describe the
  // same machine as the files.
  bool live() const { return root_.empty(); }
  std::string Path(std::string_view absolute) const { return root_ + std::string(absolute); }
  // The file's content, or nullopt when it cannot be read (absent, unreadable, a directory).
  std::optional<std::string> Read(std::string_view absolute) const;
  // Feeds the file to `block` in pieces of at most 16 KiB, for files too large to hold whole;
  // false when it cannot be read.
  bool ReadBlocks(std::string_view absolute,
                  const std::function<void(std::string_view)>& block) const;
  // Its first line, trimmed; empty when absent.
  std::string ReadLine(std::string_view absolute) const;
  // Names in a directory, sorted; empty when absent.
  std::vector<std::string> List(std::string_view absolute) const;
  // The last component of a symlink's target ("ixgbe" for .../drivers/ixgbe); empty if no link.
  std::string LinkBasename(std::string_view absolute) const;
  std::string LinkTarget(std::string_view absolute) const;

 private:
  std::string root_;
};

std::string_view Trim(std::string_view s);
// Splits on `separator`, keeping empty fields.
std::vector<std::string_view> Split(std::string_view s, char separator);
// Splits on runs of spaces and tabs.
std::vector<std::string_view> Fields(std::string_view s);
// "key: value" / "key=value" lines: the value after the first `separator`, trimmed.
std::optional<std::string_view> ValueOf(std::string_view line, std::string_view key,
                                        char separator);
// A whole decimal number, or nullopt for anything else ("garbage", "", "-1").
std::optional<std::uint64_t> ParseUnsigned(std::string_view s);

}  // namespace fleetdesk::agent::collectors
