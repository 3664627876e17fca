// The one interface to the database. Two implementations: SQLite (embedded default) and, later,
// PostgreSQL. A Store object is one connection: not thread-safe; each thread that needs the
// database gets its own from OpenStore (the writer one, each API worker one).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "server/store/model.hpp"

namespace fleetdesk::server::store {

class Store {
 public:
  virtual ~Store() = default;

  // Applies every numbered migration not yet applied, each in its own transaction.
  virtual Status Migrate() = 0;
  virtual Result<int> SchemaVersion() = 0;

  // Hosts -------------------------------------------------------------------------------------
  virtual Result<std::vector<HostRecord>> LoadHosts() = 0;
  virtual Result<HostPage> ListHosts(const HostQuery& query) = 0;
  virtual Result<std::optional<HostRecord>> GetHost(std::int64_t id) = 0;
  virtual Result<HostDetail> GetHostDetail(std::int64_t id) = 0;
  // Writes every row of the batch in one transaction: all or nothing.
  virtual Status Commit(const WriteBatch& batch) = 0;

  // Enrollment --------------------------------------------------------------------------------
  virtual Status CreateEnrollmentToken(const NewEnrollmentToken& token) = 0;
  // The same checks as EnrollAgent, reading only: lets the API refuse a bad token before it
  // spends a signature on the request.
  virtual Status CheckEnrollmentToken(const std::string& token_hash, std::int64_t now_ms) = 0;
  // In one transaction: checks the token (known, not revoked, not expired, not used up), counts
  // one use, and creates the host (or re-keys the existing host of the same machine id).
  // Errors: kUnauthenticated for an unknown token, kPermissionDenied naming why for the rest.
  virtual Result<HostRecord> EnrollAgent(const std::string& token_hash, const NewAgent& agent) = 0;

  // Users and tokens --------------------------------------------------------------------------
  virtual Result<std::int64_t> AddUser(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> FindUser(const std::string& name) = 0;
  virtual Status CreateApiToken(const NewApiToken& token) = 0;
  // The token's user, when the token exists, has not expired at `now_ms` and its user is enabled.
  virtual Result<std::optional<Principal>> FindApiToken(const std::string& token_hash,
                                                        std::int64_t now_ms) = 0;
};

// The SQLite file `database` names ("PATH" or "sqlite://PATH"), or nullopt for a PostgreSQL URL.
std::optional<std::string> SqlitePath(const std::string& database);

// Opens a connection to `database`: a file path (SQLite) or a postgresql:// URL.
Result<std::unique_ptr<Store>> OpenStore(const std::string& database);

}  // namespace fleetdesk::server::store
