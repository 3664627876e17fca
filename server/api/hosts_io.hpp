// Host attributes as people send them: validation shared by PATCH, registration and CSV import,
// and the CSV form of the hosts list.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "server/store/model.hpp"

namespace fleetdesk::server::api {

// Host names as RFC 1123 allows them, at most 253 characters.
bool ValidHostname(const std::string& name);

// Checks one attribute's value ("owner", "tags", ...); the message names the field and the rule.
Status CheckAttribute(const std::string& field, const std::string& value);
Status CheckTags(const std::vector<std::string>& tags);

// "a; b c" -> {"a", "b", "c"}: CSV cells separate tags by ';' or spaces.
std::vector<std::string> SplitTags(std::string_view text);

struct ImportProblem {
  int line = 0;
  std::string field;
  std::string message;
};

struct ParsedImport {
  std::vector<store::ImportRow> rows;
  std::vector<ImportProblem> problems;  // every problem of every row; empty when all are good
};

// The columns an import understands; read-only columns of the export (status, os, lastSeen) are
// accepted and ignored, so an exported file goes back in unchanged. An empty cell leaves the
// attribute as it is.
ParsedImport ParseHostImport(std::string_view csv);
// A CSV of 100,000 hosts with notes fits; anything bigger is not a host list.
inline constexpr std::size_t kMaxImportBytes = 32U << 20U;

std::string HostCsvHeader();
std::string HostCsvRow(const store::HostView& host);

}  // namespace fleetdesk::server::api
