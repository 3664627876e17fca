// The Store, written once over SqlConn: the SQLite and PostgreSQL stores are this class with
// their own connection and their own migrations (the same tables in each dialect).
#pragma once

#include <memory>
#include <span>

#include "server/store/sql.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server::store {

// `migrations`: the numbered schema, version 1 first; each entry runs in one transaction.
std::unique_ptr<Store> MakeSqlStore(std::unique_ptr<SqlConn> conn,
                                    std::span<const char* const> migrations);

}  // namespace fleetdesk::server::store
