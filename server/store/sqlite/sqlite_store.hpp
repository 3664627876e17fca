// The embedded store: one SQLite file in WAL mode.
#pragma once

#include <memory>
#include <string>

#include "server/store/store.hpp"

namespace fleetdesk::server::store::sqlite {

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace fleetdesk::server::store::sqlite
