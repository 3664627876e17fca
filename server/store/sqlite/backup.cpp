#include "server/store/sqlite/backup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <tuple>
#include <vector>

#include "common/crypto.hpp"
#include "common/files.hpp"
#include "server/store/sqlite/sqlite.hpp"

namespace fleetdesk::server::store::sqlite {
namespace {

struct DataFile {
  const char* name;
  unsigned mode;
};
// The data directory's files a server cannot do without, besides the database.
constexpr std::array<DataFile, 4> kDataFiles = {{
    {"ca.crt", 0644},
    {"ca.key", 0600},
    {"server.crt", 0644},
    {"server.key", 0600},
}};

constexpr const char* kFilesTable = "fleetdesk_backup_files";
constexpr const char* kAttachmentsTable = "fleetdesk_backup_attachments";

std::string AttachmentPath(const std::string& dir, const std::string& sha256) {
  return dir + "/" + sha256.substr(0, 2) + "/" + sha256;
}

// The files the copy's attachment rows point at, into the backup beside them. Read after the
// copy: a file is written before its row, so each one the copy lists is there.
Status CopyAttachments(Database& target, const std::string& attachment_dir) {
  if (auto s = target.Exec(std::string("CREATE TABLE ") + kAttachmentsTable +
                           " (sha256 TEXT PRIMARY KEY, content BLOB NOT NULL)");
      !s) {
    return s;
  }
  auto listed = target.Prepare("SELECT DISTINCT sha256 FROM ticket_attachments WHERE in_files");
  if (!listed) return {};  // a database from before attachments
  std::vector<std::string> digests;
  for (;;) {
    auto row = listed->Step();
    if (!row) return row.error();
    if (!*row) break;
    digests.push_back(listed->Text(0));
  }
  for (const auto& sha256 : digests) {
    auto content = files::Read(AttachmentPath(attachment_dir, sha256));
    if (!content) return content.error();
    auto insert =
        target.Prepare(std::string("INSERT INTO ") + kAttachmentsTable + " VALUES (?, ?)");
    if (!insert) return insert.error();
    if (auto s =
            insert->Bind(1, std::string_view(sha256)).BindBlob(2, std::string_view(*content)).Run();
        !s) {
      return s;
    }
  }
  return {};
}

// Copies database `from` into `to` page by page: a consistent snapshot even while another
// connection writes (readers of a WAL database see one committed state).
Status CopyDatabase(sqlite3* from, sqlite3* to) {
  sqlite3_backup* backup = sqlite3_backup_init(to, "main", from, "main");
  if (backup == nullptr) {
    return MakeError(ErrorCode::kUnavailable, std::string("backup: ") + sqlite3_errmsg(to));
  }
  int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return MakeError(ErrorCode::kUnavailable, std::string("backup: ") + sqlite3_errstr(rc));
  }
  return {};
}

}  // namespace

Status Backup(const std::string& data_dir, const std::string& database,
              const std::string& attachment_dir, const std::string& out_file) {
  auto source = Database::Open(database);
  if (!source) return source.error();
  const std::string temp = out_file + ".partial";
  std::remove(temp.c_str());
  // Private from the first byte: it will hold the CA's private key.
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kUnavailable, "cannot create " + temp);
  ::close(fd);
  {
    auto target = Database::Open(temp);
    if (!target) return target.error();
    // A backup is a plain file to copy around, not a WAL database with side files.
    if (auto s = target->Exec("PRAGMA journal_mode=DELETE"); !s) return s;
    if (auto s = CopyDatabase(source->handle(), target->handle()); !s) return s;
    if (auto s =
            target->Exec(std::string("CREATE TABLE ") + kFilesTable +
                         " (name TEXT PRIMARY KEY, mode INTEGER NOT NULL, content BLOB NOT NULL)");
        !s) {
      return s;
    }
    for (const auto& file : kDataFiles) {
      auto content = files::Read(data_dir + "/" + file.name);
      if (!content) return content.error();
      auto insert =
          target->Prepare(std::string("INSERT INTO ") + kFilesTable + " VALUES (?, ?, ?)");
      if (!insert) return insert.error();
      if (auto s = insert->Bind(1, std::string_view(file.name))
                       .Bind(2, std::int64_t{file.mode})
                       .Bind(3, std::string_view(*content))
                       .Run();
          !s) {
        return s;
      }
    }
    if (auto s = CopyAttachments(*target, attachment_dir); !s) return s;
  }
  if (std::rename(temp.c_str(), out_file.c_str()) != 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot write " + out_file);
  }
  return {};
}

Status Restore(const std::string& backup_file, const std::string& data_dir,
               const std::string& database, const std::string& attachment_dir) {
  if (!files::Exists(backup_file)) {
    return MakeError(ErrorCode::kNotFound, "no backup file " + backup_file);
  }
  auto backup = Database::Open(backup_file);
  if (!backup) return backup.error();
  auto check = backup->Prepare("PRAGMA integrity_check");
  if (!check) return check.error();
  if (auto row = check->Step(); !row || !*row || check->Text(0) != "ok") {
    return MakeError(ErrorCode::kInvalidArgument,
                     backup_file + " is damaged (integrity check failed)");
  }
  auto listed = backup->Prepare(std::string("SELECT name, mode, content FROM ") + kFilesTable);
  if (!listed) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        backup_file + " is not a fleetdesk backup (made by 'fleetdesk-server backup')");
  }
  std::vector<std::tuple<std::string, unsigned, std::string>> saved;
  for (;;) {
    auto row = listed->Step();
    if (!row) return row.error();
    if (!*row) break;
    saved.emplace_back(listed->Text(0), static_cast<unsigned>(listed->Int(1)), listed->Text(2));
  }
  if (saved.size() != kDataFiles.size()) {
    return MakeError(ErrorCode::kInvalidArgument, backup_file + " lacks the CA or server keys");
  }
  // Backups from before attachments have no such table.
  std::vector<std::pair<std::string, std::string>> attachments;
  if (auto attached =
          backup->Prepare(std::string("SELECT sha256, content FROM ") + kAttachmentsTable)) {
    for (;;) {
      auto row = attached->Step();
      if (!row) return row.error();
      if (!*row) break;
      attachments.emplace_back(attached->Text(0), attached->Text(1));
      if (crypto::Sha256Hex(attachments.back().second) != attachments.back().first) {
        return MakeError(ErrorCode::kInvalidArgument, backup_file + " is damaged: attachment " +
                                                          attachments.back().first +
                                                          " does not match its SHA-256");
      }
    }
  }

  if (auto s = files::MakeDirectory(data_dir, 0700); !s) return s;
  {
    auto live = Database::Open(database);
    if (!live) return live.error();
    if (auto s = CopyDatabase(backup->handle(), live->handle()); !s) return s;
    if (auto s = live->Exec(std::string("DROP TABLE ") + kFilesTable); !s) return s;
    if (auto s = live->Exec(std::string("DROP TABLE IF EXISTS ") + kAttachmentsTable); !s) {
      return s;
    }
  }
  std::vector<std::string> written = {database, database + "-wal", database + "-shm"};
  for (const auto& [name, mode, content] : saved) {
    if (auto s = files::WriteAtomically(data_dir + "/" + name, content, mode); !s) return s;
    written.push_back(data_dir + "/" + name);
  }
  if (!attachments.empty()) {
    if (auto s = files::MakeDirectory(attachment_dir, 0750); !s) return s;
    written.push_back(attachment_dir);
  }
  for (const auto& [sha256, content] : attachments) {
    const auto sub = attachment_dir + "/" + sha256.substr(0, 2);
    if (auto s = files::MakeDirectory(sub, 0750); !s) return s;
    const auto path = AttachmentPath(attachment_dir, sha256);
    if (auto s = files::WriteAtomically(path, content, 0640); !s) return s;
    written.push_back(sub);
    written.push_back(path);
  }
  // Run as root for a server that runs as its own user: what was written belongs to the data
  // directory's owner, or the server could not read its own key.
  struct stat dir {};
  if (::geteuid() == 0 && ::stat(data_dir.c_str(), &dir) == 0) {
    for (const auto& path : written) {
      if (files::Exists(path)) (void)::chown(path.c_str(), dir.st_uid, dir.st_gid);
    }
  }
  return {};
}

}  // namespace fleetdesk::server::store::sqlite
