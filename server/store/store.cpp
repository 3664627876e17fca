#include "server/store/store.hpp"

#include "server/store/sqlite/sqlite_store.hpp"

namespace fleetdesk::server::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& database) {
  if (database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "this build has no PostgreSQL store yet; use a SQLite file path");
  }
  std::string path = database;
  if (path.rfind("sqlite://", 0) == 0) path = path.substr(9);
  return sqlite::OpenSqliteStore(path);
}

}  // namespace fleetdesk::server::store
