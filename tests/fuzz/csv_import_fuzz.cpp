// The hosts CSV importer, as POST /api/v1/hosts/import runs it on an uploaded file: any input
// gives rows and problems, never a crash, and every row and problem names a line of the input
// (0 for the file as a whole).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/api/hosts_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view csv(reinterpret_cast<const char*>(data), size);
  auto parsed = fleetdesk::server::api::ParseHostImport(csv);
  const auto lines = static_cast<int>(std::count(csv.begin(), csv.end(), '\n')) + 1;
  for (const auto& problem : parsed.problems) {
    if (problem.message.empty() || problem.line < 0 || problem.line > lines) std::abort();
  }
  for (const auto& row : parsed.rows) {
    if (row.line < 1 || row.line > lines) std::abort();
  }
  return 0;
}
