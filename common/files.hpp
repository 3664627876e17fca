// Small file helpers with the durability the state directories need.
#pragma once

#include <string>

#include "common/result.hpp"

namespace fleetdesk::files {

Result<std::string> Read(const std::string& path);

// Writes to a temporary file beside `path`, fsyncs it, renames it over `path` and fsyncs the
// directory, so a crash leaves either the old or the new content, never a torn file.
Status WriteAtomically(const std::string& path, const std::string& content, unsigned mode);

// Creates `path` and its parents if missing, then sets `mode` on `path` itself.
Status MakeDirectory(const std::string& path, unsigned mode);

bool Exists(const std::string& path);

}  // namespace fleetdesk::files
