#include "server/api/hosts_io.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>

#include "common/time_text.hpp"
#include "server/api/csv.hpp"
#include "server/api/params.hpp"

namespace fleetdesk::server::api {
namespace {

constexpr std::size_t kMaxShortText = 200;
constexpr std::size_t kMaxNotes = 10000;
constexpr std::size_t kMaxSerial = 128;
constexpr std::size_t kMaxTag = 64;
constexpr std::size_t kMaxTags = 50;
constexpr std::size_t kMaxImportRows = 100000;

// The export's columns, in order. The first three are keys on import.
const std::vector<std::string>& ExportColumns() {
  static const std::vector<std::string> columns = {
      "id",          "hostname", "serial",      "status", "os",    "owner",   "location",
      "environment", "role",     "criticality", "tags",   "notes", "lastSeen"};
  return columns;
}

// Undoes the export's formula guard: "'=x" was "=x".
std::string Unguard(std::string value) {
  if (value.size() >= 2 && value[0] == '\'' &&
      (value[1] == '=' || value[1] == '+' || value[1] == '-' || value[1] == '@')) {
    value.erase(0, 1);
  }
  return value;
}

}  // namespace

bool ValidHostname(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  return name.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
         std::string::npos;
}

Status CheckAttribute(const std::string& field, const std::string& value) {
  if (!ValidUtf8(value)) return Invalid(field + " is not valid UTF-8");
  if (field == "hostname") {
    if (!ValidHostname(value)) {
      return Invalid("hostname must be 1 to 253 letters, digits, '-' or '.'");
    }
  } else if (field == "serial") {
    if (value.size() > kMaxSerial || HasControl(value, false)) {
      return Invalid("serial must be at most 128 characters, without control characters");
    }
  } else if (field == "criticality") {
    if (std::find(std::begin(store::kCriticalities), std::end(store::kCriticalities), value) ==
        std::end(store::kCriticalities)) {
      return Invalid("criticality must be low, medium, high or critical, not '" + value + "'");
    }
  } else if (field == "notes") {
    if (value.size() > kMaxNotes || HasControl(value, true)) {
      return Invalid("notes must be at most 10000 bytes, without control characters");
    }
  } else if (field == "owner" || field == "location" || field == "environment" || field == "role") {
    if (value.size() > kMaxShortText || HasControl(value, false)) {
      return Invalid(field + " must be at most 200 bytes, without control characters");
    }
  } else {
    return Invalid("unknown attribute '" + field + "'");
  }
  return {};
}

Status CheckTags(const std::vector<std::string>& tags) {
  if (tags.size() > kMaxTags) return Invalid("a host has at most 50 tags");
  for (const auto& tag : tags) {
    if (tag.empty() || tag.size() > kMaxTag ||
        tag.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/") !=
            std::string::npos) {
      return Invalid("tag '" + tag +
                     "' must be 1 to 64 letters, digits, '-', '_', '.', ':' or '/'");
    }
  }
  return {};
}

std::vector<std::string> SplitTags(std::string_view text) {
  std::vector<std::string> tags;
  std::string current;
  for (char c : text) {
    if (c == ';' || c == ' ' || c == '\t') {
      if (!current.empty()) tags.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) tags.push_back(std::move(current));
  return tags;
}

ParsedImport ParseHostImport(std::string_view text) {
  ParsedImport out;
  int error_line = 0;
  auto records = csv::Parse(text, &error_line);
  if (!records) {
    out.problems.push_back({error_line, "", records.error().message});
    return out;
  }
  if (records->empty()) {
    out.problems.push_back({1, "", "the file is empty: the first line names the columns"});
    return out;
  }
  if (records->size() - 1 > kMaxImportRows) {
    out.problems.push_back({0, "", "at most 100000 hosts per import"});
    return out;
  }
  const auto& header = records->front();
  std::map<std::string, std::size_t> column;
  const auto& known = ExportColumns();
  for (std::size_t i = 0; i < header.fields.size(); ++i) {
    std::string name = header.fields[i];
    if (i == 0 && name.rfind("\xEF\xBB\xBF", 0) == 0) name.erase(0, 3);  // a spreadsheet's BOM
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      out.problems.push_back({header.line, name, "unknown column '" + name + "'"});
    } else if (!column.emplace(name, i).second) {
      out.problems.push_back({header.line, name, "column '" + name + "' twice"});
    }
  }
  if (column.count("id") == 0 && column.count("hostname") == 0 && column.count("serial") == 0) {
    out.problems.push_back(
        {header.line, "", "a column id, hostname or serial must say which host a row is"});
  }
  if (!out.problems.empty()) return out;

  for (std::size_t r = 1; r < records->size(); ++r) {
    const auto& record = (*records)[r];
    const int line = record.line;
    if (record.fields.size() != header.fields.size()) {
      out.problems.push_back({line, "",
                              "has " + std::to_string(record.fields.size()) +
                                  " fields, the header " + std::to_string(header.fields.size())});
      continue;
    }
    auto cell = [&](const std::string& name) -> std::string {
      auto it = column.find(name);
      return it == column.end() ? std::string() : Unguard(record.fields[it->second]);
    };
    store::ImportRow row;
    row.line = line;
    bool good = true;
    auto problem = [&](const std::string& field, const std::string& message) {
      out.problems.push_back({line, field, message});
      good = false;
    };
    if (auto id = cell("id"); !id.empty()) {
      std::int64_t value = 0;
      auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
      if (ec != std::errc() || end != id.data() + id.size() || value <= 0) {
        problem("id", "id must be a positive whole number, not '" + id + "'");
      } else {
        row.id = value;
      }
    }
    row.hostname = cell("hostname");
    row.serial = cell("serial");
    if (!row.id && row.hostname.empty() && row.serial.empty()) {
      problem("", "needs an id, a hostname or a serial");
    }
    for (const char* field : {"hostname", "serial", "owner", "location", "environment", "role",
                              "criticality", "notes"}) {
      auto value = cell(field);
      if (value.empty()) continue;
      if (auto s = CheckAttribute(field, value); !s) {
        problem(field, s.error().message);
        continue;
      }
      std::string f = field;
      auto& p = row.patch;
      (f == "hostname"      ? p.hostname
       : f == "serial"      ? p.serial
       : f == "owner"       ? p.owner
       : f == "location"    ? p.location
       : f == "environment" ? p.environment
       : f == "role"        ? p.role
       : f == "criticality" ? p.criticality
                            : p.notes) = value;
    }
    if (auto tags = cell("tags"); !tags.empty()) {
      auto list = SplitTags(tags);
      if (auto s = CheckTags(list); !s) {
        problem("tags", s.error().message);
      } else {
        row.patch.tags = list;
      }
    }
    if (good) out.rows.push_back(std::move(row));
  }
  return out;
}

std::string HostCsvHeader() {
  std::string line;
  for (const auto& c : ExportColumns()) line += (line.empty() ? "" : ",") + c;
  return line + "\r\n";
}

std::string HostCsvRow(const store::HostView& h) {
  std::string tags;
  for (const auto& t : h.attributes.tags) tags += (tags.empty() ? "" : ";") + t;
  const std::vector<std::string> values = {std::to_string(h.record.id),
                                           h.record.hostname,
                                           h.serial,
                                           h.StatusName(),
                                           h.record.os_pretty_name,
                                           h.attributes.owner,
                                           h.attributes.location,
                                           h.attributes.environment,
                                           h.attributes.role,
                                           h.attributes.criticality,
                                           tags,
                                           h.attributes.notes,
                                           UtcSecondsText(h.record.last_seen_ms / 1000)};
  std::string line;
  for (std::size_t i = 0; i < values.size(); ++i) {
    line += (i == 0 ? "" : ",") + csv::Field(values[i]);
  }
  return line + "\r\n";
}

}  // namespace fleetdesk::server::api
