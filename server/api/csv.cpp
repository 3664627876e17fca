#include "server/api/csv.hpp"

namespace fleetdesk::server::api::csv {

Result<std::vector<Record>> Parse(std::string_view text, int* error_line) {
  std::vector<Record> records;
  Record record;
  std::string field;
  int line = 1;
  record.line = 1;
  bool quoted = false;       // inside a quoted field
  bool after_quote = false;  // a quoted field just closed: only a separator may follow
  bool field_started = false;
  auto end_field = [&] {
    record.fields.push_back(std::move(field));
    field.clear();
    after_quote = false;
    field_started = false;
  };
  auto end_record = [&] {
    const bool blank = record.fields.size() == 1 && record.fields[0].empty();
    if (!blank) records.push_back(std::move(record));
    record = Record{};
    record.line = line;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == ',') {
      end_field();
      field_started = true;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      continue;
    } else if (c == '\n') {
      end_field();
      ++line;
      end_record();
    } else if (after_quote) {
      if (error_line != nullptr) *error_line = line;
      return MakeError(ErrorCode::kInvalidArgument,
                       "line " + std::to_string(line) + ": text after a closing quote");
    } else if (c == '"' && field.empty()) {
      quoted = true;
      field_started = true;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) {
    if (error_line != nullptr) *error_line = record.line;
    return MakeError(ErrorCode::kInvalidArgument,
                     "line " + std::to_string(record.line) + ": a quoted field is not closed");
  }
  if (field_started || !field.empty() || !record.fields.empty()) {
    end_field();
    end_record();
  }
  return records;
}

std::string Field(std::string_view value) {
  std::string text(value);
  if (!text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@')) {
    text.insert(text.begin(), '\'');
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace fleetdesk::server::api::csv
