// The Store over PostgreSQL (libpq), for fleets that outgrow one server: several server
// processes share one database.
#pragma once

#include <memory>
#include <string>

#include "server/store/store.hpp"

namespace fleetdesk::server::store::postgres {

// Connects to `url` (postgresql://...). Migrate() must run before other calls on a new database.
Result<std::unique_ptr<Store>> OpenPgStore(const std::string& url);

// A connection of its own that has run LISTEN on `channel` (an identifier of ours, not quoted).
Result<std::unique_ptr<Listener>> ListenPg(const std::string& url, const std::string& channel);

}  // namespace fleetdesk::server::store::postgres
