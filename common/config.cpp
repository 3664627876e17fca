#include "common/config.hpp"

#include <toml++/toml.h>

#include <charconv>

#include "common/files.hpp"

namespace fleetdesk::config {

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  std::int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || number < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(text) + "' is not a duration like 90s, 15m, 24h or 30d");
  }
  std::string_view unit(end, text.data() + text.size() - end);
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60;
  } else if (unit == "h") {
    scale = 3600;
  } else if (unit == "d") {
    scale = 86400;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(text) + "' has an unknown unit; use s, m, h or d");
  }
  // Nothing is configured in centuries; the bound also keeps number * scale, and the
  // milliseconds made of it, from overflowing.
  constexpr std::int64_t kMaxSeconds = 100LL * 366 * 86400;
  if (number > kMaxSeconds / scale) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(text) + "' is longer than 100 years");
  }
  return std::chrono::seconds(number * scale);
}

Result<std::chrono::milliseconds> ParseMilliseconds(std::string_view text) {
  if (text.ends_with("ms")) {
    std::int64_t number = 0;
    auto digits = text.substr(0, text.size() - 2);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc() || number < 0 || end != digits.data() + digits.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "'" + std::string(text) + "' is not a duration like 250ms or 5s");
    }
    if (number > 100LL * 366 * 86400 * 1000) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "'" + std::string(text) + "' is longer than 100 years");
    }
    return std::chrono::milliseconds(number);
  }
  auto seconds = ParseDuration(text);
  if (!seconds) return seconds.error();
  return std::chrono::milliseconds(*seconds);
}

Result<std::uint64_t> ParseSize(std::string_view text) {
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(text) + "' is not a size like 512KiB, 64MiB or 1GiB");
  }
  std::string_view unit(end, text.data() + text.size() - end);
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB") {
    scale = 1ULL << 10U;
  } else if (unit == "MiB") {
    scale = 1ULL << 20U;
  } else if (unit == "GiB") {
    scale = 1ULL << 30U;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + std::string(text) + "' has an unknown unit; use B, KiB, MiB or GiB");
  }
  if (number > UINT64_MAX / scale) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is too large");
  }
  return number * scale;
}

struct ConfigReader::Impl {
  std::string source;
  toml::table table;
  std::set<std::string> asked;
  Error first_error;
  bool failed = false;

  std::string Where(const toml::node& node) const {
    return source + ":" + std::to_string(node.source().begin.line);
  }
  void Fail(const toml::node& node, const std::string& key, const std::string& what) {
    if (failed) return;
    failed = true;
    first_error =
        MakeError(ErrorCode::kInvalidArgument, Where(node) + ": key '" + key + "' " + what);
  }
  const toml::node* Find(const std::string& key) {
    asked.insert(key);
    return table.at_path(key).node();
  }
  // Walks the document; the first leaf no getter asked for is the unknown key.
  std::string FirstUnknown(const toml::table& t, const std::string& prefix, int* line) const {
    for (const auto& [k, v] : t) {
      std::string path =
          prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (asked.count(path) != 0) continue;
      if (const auto* sub = v.as_table()) {
        auto found = FirstUnknown(*sub, path, line);
        if (!found.empty()) return found;
        continue;
      }
      if (const auto* array = v.as_array(); array != nullptr && array->is_array_of_tables()) {
        for (std::size_t i = 0; i < array->size(); ++i) {
          auto found =
              FirstUnknown(*array->get(i)->as_table(), path + "[" + std::to_string(i) + "]", line);
          if (!found.empty()) return found;
        }
        continue;
      }
      *line = static_cast<int>(v.source().begin.line);
      return path;
    }
    return {};
  }
};

ConfigReader::ConfigReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigReader::ConfigReader(ConfigReader&&) noexcept = default;
ConfigReader& ConfigReader::operator=(ConfigReader&&) noexcept = default;
ConfigReader::~ConfigReader() = default;

Result<ConfigReader> ConfigReader::Parse(const std::string& text, const std::string& source_name) {
  auto impl = std::make_unique<Impl>();
  impl->source = source_name;
  try {
    impl->table = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kInvalidArgument, source_name + ":" +
                                                      std::to_string(e.source().begin.line) + ": " +
                                                      std::string(e.description()));
  }
  return ConfigReader(std::move(impl));
}

Result<ConfigReader> ConfigReader::LoadFile(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return MakeError(ErrorCode::kNotFound, "cannot open config file " + path);
  }
  std::string text;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  std::fclose(f);
  return Parse(text, path);
}

Result<ConfigReader> ConfigReader::LoadOptional(const std::string& path, bool must_exist) {
  // Only absence falls back to defaults; a file that exists but cannot be read is an error.
  if (!must_exist && !files::Exists(path)) return Empty();
  return LoadFile(path);
}

ConfigReader ConfigReader::Empty() { return ConfigReader(std::make_unique<Impl>()); }

bool ConfigReader::Has(const std::string& key) const {
  return impl_->table.at_path(key).node() != nullptr;
}

void ConfigReader::String(const std::string& key, std::string* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  if (auto v = node->value<std::string>()) {
    *out = *v;
  } else {
    impl_->Fail(*node, key, "must be a string");
  }
}

void ConfigReader::Int(const std::string& key, std::int64_t min, std::int64_t max,
                       std::int64_t* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  auto v = node->as_integer();
  if (v == nullptr) {
    impl_->Fail(*node, key, "must be an integer");
  } else if (v->get() < min || v->get() > max) {
    impl_->Fail(*node, key,
                "must be between " + std::to_string(min) + " and " + std::to_string(max));
  } else {
    *out = v->get();
  }
}

void ConfigReader::Bool(const std::string& key, bool* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  if (auto v = node->value<bool>()) {
    *out = *v;
  } else {
    impl_->Fail(*node, key, "must be true or false");
  }
}

void ConfigReader::Duration(const std::string& key, std::chrono::seconds* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  if (auto i = node->as_integer()) {
    if (i->get() < 0) {
      impl_->Fail(*node, key, "must not be negative");
    } else {
      *out = std::chrono::seconds(i->get());
    }
    return;
  }
  auto text = node->value<std::string>();
  if (!text) {
    impl_->Fail(*node, key, "must be a duration like \"90s\", \"15m\", \"24h\" or \"30d\"");
    return;
  }
  auto parsed = ParseDuration(*text);
  if (!parsed) {
    impl_->Fail(*node, key, parsed.error().message);
  } else {
    *out = *parsed;
  }
}

void ConfigReader::StringList(const std::string& key, std::vector<std::string>* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  const auto* array = node->as_array();
  if (array == nullptr) {
    impl_->Fail(*node, key, "must be an array of strings");
    return;
  }
  std::vector<std::string> values;
  for (const auto& item : *array) {
    auto v = item.value<std::string>();
    if (!v) {
      impl_->Fail(item, key, "must be an array of strings");
      return;
    }
    values.push_back(*v);
  }
  *out = std::move(values);
}

void ConfigReader::IntList(const std::string& key, std::int64_t min, std::int64_t max,
                           std::vector<std::int64_t>* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  const auto* array = node->as_array();
  if (array == nullptr) {
    impl_->Fail(*node, key, "must be an array of integers");
    return;
  }
  std::vector<std::int64_t> values;
  for (const auto& item : *array) {
    const auto* v = item.as_integer();
    if (v == nullptr || v->get() < min || v->get() > max) {
      impl_->Fail(item, key,
                  "must be an array of integers between " + std::to_string(min) + " and " +
                      std::to_string(max));
      return;
    }
    values.push_back(v->get());
  }
  *out = std::move(values);
}

void ConfigReader::StringMap(const std::string& key, std::map<std::string, std::string>* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  const auto* table = node->as_table();
  if (table == nullptr) {
    impl_->Fail(*node, key, "must be a table of strings");
    return;
  }
  std::map<std::string, std::string> values;
  for (const auto& [k, v] : *table) {
    auto text = v.value<std::string>();
    if (!text) {
      impl_->Fail(v, key + "." + std::string(k.str()), "must be a string");
      return;
    }
    values[std::string(k.str())] = *text;
  }
  *out = std::move(values);
}

void ConfigReader::Milliseconds(const std::string& key, std::chrono::milliseconds* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  auto text = node->value<std::string>();
  if (!text) {
    impl_->Fail(*node, key, "must be a duration like \"250ms\" or \"5s\"");
    return;
  }
  auto parsed = ParseMilliseconds(*text);
  if (!parsed) {
    impl_->Fail(*node, key, parsed.error().message);
  } else {
    *out = *parsed;
  }
}

void ConfigReader::Size(const std::string& key, std::uint64_t min, std::uint64_t max,
                        std::uint64_t* out) {
  const auto* node = impl_->Find(key);
  if (node == nullptr) return;
  Result<std::uint64_t> parsed = std::uint64_t{0};
  if (auto i = node->as_integer()) {
    if (i->get() < 0) {
      impl_->Fail(*node, key, "must not be negative");
      return;
    }
    parsed = static_cast<std::uint64_t>(i->get());
  } else if (auto text = node->value<std::string>()) {
    parsed = ParseSize(*text);
  } else {
    impl_->Fail(*node, key, "must be a size like \"64MiB\"");
    return;
  }
  if (!parsed) {
    impl_->Fail(*node, key, parsed.error().message);
  } else if (*parsed < min || *parsed > max) {
    impl_->Fail(
        *node, key,
        "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
  } else {
    *out = *parsed;
  }
}

std::size_t ConfigReader::TableCount(const std::string& key) {
  const auto* node = impl_->table.at_path(key).node();
  if (node == nullptr) return 0;
  const auto* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    impl_->asked.insert(key);
    impl_->Fail(*node, key, "must be an array of tables ([[" + key + "]])");
    return 0;
  }
  return array->size();
}

Status ConfigReader::Finish() const {
  if (impl_->failed) return impl_->first_error;
  int line = 0;
  auto unknown = impl_->FirstUnknown(impl_->table, "", &line);
  if (!unknown.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, impl_->source + ":" + std::to_string(line) +
                                                      ": unknown key '" + unknown + "'");
  }
  return {};
}

}  // namespace fleetdesk::config
