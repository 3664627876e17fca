// TOML configuration, read through a ConfigReader that remembers which keys it was asked for,
// so a key nobody asked for (a typo, an option of another version) is an error naming the key
// and its line, as fluent-bit and Redis do for their config files.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::config {

// Parses "90", "90s", "15m", "24h", "30d" into seconds.
Result<std::chrono::seconds> ParseDuration(std::string_view text);
// The same, plus "250ms", into milliseconds.
Result<std::chrono::milliseconds> ParseMilliseconds(std::string_view text);
// Parses "65536", "512KiB", "64MiB", "1GiB" into bytes.
Result<std::uint64_t> ParseSize(std::string_view text);

// Not thread-safe; read a file on one thread, then hand out the plain struct it filled.
class ConfigReader {
 public:
  // A missing file is an error; so is a file that is not valid TOML (the message has the line).
  static Result<ConfigReader> LoadFile(const std::string& path);
  static Result<ConfigReader> Parse(const std::string& text, const std::string& source_name);
  // LoadFile, except that a missing file at a default path (`must_exist` false) means no keys:
  // the daemons run on defaults until a config file is written.
  static Result<ConfigReader> LoadOptional(const std::string& path, bool must_exist);
  // A reader with no keys at all, for running with defaults.
  static ConfigReader Empty();

  ConfigReader(ConfigReader&&) noexcept;
  ConfigReader& operator=(ConfigReader&&) noexcept;
  ~ConfigReader();

  // Each getter leaves `out` as it was when the key is absent, and records an error naming the
  // key and its line when the value has the wrong type or range. Keys may be dotted paths
  // ("tls.names") into TOML tables.
  void String(const std::string& key, std::string* out);
  void Int(const std::string& key, std::int64_t min, std::int64_t max, std::int64_t* out);
  void Bool(const std::string& key, bool* out);
  void Duration(const std::string& key, std::chrono::seconds* out);
  void StringList(const std::string& key, std::vector<std::string>* out);
  void IntList(const std::string& key, std::int64_t min, std::int64_t max,
               std::vector<std::int64_t>* out);
  // A table of strings (headers = { Accept = "text/html" }).
  void StringMap(const std::string& key, std::map<std::string, std::string>* out);
  // Durations that may be shorter than a second ("250ms").
  void Milliseconds(const std::string& key, std::chrono::milliseconds* out);
  void Size(const std::string& key, std::uint64_t min, std::uint64_t max, std::uint64_t* out);
  // The number of tables in an array of tables ([[checks]]); read their keys as "checks[0].name".
  std::size_t TableCount(const std::string& key);
  // Whether the document sets the key (a leaf or a table), whatever its value.
  bool Has(const std::string& key) const;
  // The first recorded error, else an error for the first key no getter asked for.
  Status Finish() const;

 private:
  struct Impl;
  explicit ConfigReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetdesk::config
