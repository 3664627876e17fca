// Online backup and restore of the embedded store. A backup is one SQLite file: a consistent
// copy of the database (SQLite's backup API, taken while the server runs) plus the data
// directory's keys and certificates, without which a restored server could not recognise its
// agents, and the files attached to tickets that the copy lists. PostgreSQL deployments back up
// with their own tools (docs/OPERATIONS.md).
#pragma once

#include <string>

#include "common/result.hpp"

namespace fleetdesk::server::store::sqlite {

// Writes `out_file` (replacing it atomically). Safe while the server is running. The attachments
// the database keeps in files are read from `attachment_dir` (<dir>/ab/abcdef...).
Status Backup(const std::string& data_dir, const std::string& database,
              const std::string& attachment_dir, const std::string& out_file);

// Puts `backup_file` back into `data_dir`: the database, the key and certificate files, and the
// attached files into `attachment_dir`. The caller must hold the data directory's lock (no
// server running on it).
Status Restore(const std::string& backup_file, const std::string& data_dir,
               const std::string& database, const std::string& attachment_dir);

}  // namespace fleetdesk::server::store::sqlite
