// RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF, line breaks inside quotes. Enough for
// what spreadsheets write and read; nothing more.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::server::api::csv {

struct Record {
  int line = 0;  // the line the record starts on, from 1
  std::vector<std::string> fields;
};

// Blank lines are skipped. Errors: kInvalidArgument naming the line of an unterminated quote or
// of text after a closing quote; that line also goes to `error_line` when given.
Result<std::vector<Record>> Parse(std::string_view text, int* error_line = nullptr);

// One field as it goes into a file: quoted when it holds a separator, a quote or a line break.
// A value a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe.
std::string Field(std::string_view value);

}  // namespace fleetdesk::server::api::csv
