#include "agent/collectors/root.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>

namespace fleetdesk::agent::collectors {

bool Root::ReadBlocks(std::string_view absolute,
                      const std::function<void(std::string_view)>& block) const {
  // /proc and /sys files report a size of 0 or 4096 whatever they hold: read until EOF.
  int fd = ::open(Path(absolute).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      // EINVAL is how sysfs says "no value now" (speed of a down link): treat as absent.
      return false;
    }
    if (n == 0) break;
    block(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
  ::close(fd);
  return true;
}

std::optional<std::string> Root::Read(std::string_view absolute) const {
  std::string content;
  struct stat st {};
  // Regular files say their size; reserving it keeps the string from doubling past it.
  if (::stat(Path(absolute).c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    content.reserve(static_cast<std::size_t>(st.st_size) + 1);
  }
  if (!ReadBlocks(absolute, [&](std::string_view data) { content.append(data); })) {
    return std::nullopt;
  }
  return content;
}

std::string Root::ReadLine(std::string_view absolute) const {
  auto content = Read(absolute);
  if (!content) return {};
  std::string_view view(*content);
  view = view.substr(0, view.find('\n'));
  return std::string(Trim(view));
}

std::vector<std::string> Root::List(std::string_view absolute) const {
  std::vector<std::string> names;
  DIR* dir = ::opendir(Path(absolute).c_str());
  if (dir == nullptr) return names;
  while (const dirent* entry = ::readdir(dir)) {
    std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::string Root::LinkTarget(std::string_view absolute) const {
  char buffer[4096];
  ssize_t n = ::readlink(Path(absolute).c_str(), buffer, sizeof buffer - 1);
  if (n <= 0) return {};
  return std::string(buffer, static_cast<std::size_t>(n));
}

std::string Root::LinkBasename(std::string_view absolute) const {
  auto target = LinkTarget(absolute);
  auto slash = target.rfind('/');
  return slash == std::string::npos ? target : target.substr(slash + 1);
}

std::string_view Trim(std::string_view s) {
  auto start = s.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return {};
  auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(start, end - start + 1);
}

std::vector<std::string_view> Split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto end = s.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) fields.push_back(s.substr(start, i - start));
  }
  return fields;
}

std::optional<std::string_view> ValueOf(std::string_view line, std::string_view key,
                                        char separator) {
  auto at = line.find(separator);
  if (at == std::string_view::npos) return std::nullopt;
  if (Trim(line.substr(0, at)) != key) return std::nullopt;
  return Trim(line.substr(at + 1));
}

std::optional<std::uint64_t> ParseUnsigned(std::string_view s) {
  s = Trim(s);
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return value;
}

}  // namespace fleetdesk::agent::collectors
