#include "server/store/store.hpp"

#include "server/store/sqlite/sqlite_store.hpp"
#ifdef FLEETDESK_WITH_POSTGRESQL
#include "server/store/postgres/pg_store.hpp"
#endif

namespace fleetdesk::server::store {

std::optional<std::string> SqlitePath(const std::string& database) {
  if (database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0) {
    return std::nullopt;
  }
  if (database.rfind("sqlite://", 0) == 0) return database.substr(9);
  return database;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& database) {
  auto path = SqlitePath(database);
  if (path) return sqlite::OpenSqliteStore(*path);
#ifdef FLEETDESK_WITH_POSTGRESQL
  return postgres::OpenPgStore(database);
#else
  return MakeError(ErrorCode::kFailedPrecondition,
                   "this build has no PostgreSQL store (built without FLEETDESK_WITH_POSTGRESQL)");
#endif
}

Result<std::unique_ptr<Listener>> Listen(const std::string& database, const std::string& channel) {
  if (SqlitePath(database)) {
    return MakeError(ErrorCode::kFailedPrecondition, "SQLite has no other servers to listen to");
  }
#ifdef FLEETDESK_WITH_POSTGRESQL
  return postgres::ListenPg(database, channel);
#else
  (void)channel;
  return MakeError(ErrorCode::kFailedPrecondition,
                   "this build has no PostgreSQL store (built without FLEETDESK_WITH_POSTGRESQL)");
#endif
}

}  // namespace fleetdesk::server::store
