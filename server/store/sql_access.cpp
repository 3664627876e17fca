// Identity and access over SqlConn: users, API tokens, enrollment tokens, browser sessions and
// the audit log. Every change writes its audit entry in its own transaction.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "server/store/sql_base.hpp"

namespace fleetdesk::server::store {
namespace {

// before/after as a JSON object of strings; NULL when empty (nothing to say).
std::optional<std::string> FieldsJson(const std::map<std::string, std::string>& fields) {
  if (fields.empty()) return std::nullopt;
  google::protobuf::Struct object;
  for (const auto& [key, value] : fields) {
    (*object.mutable_fields())[key].set_string_value(value);
  }
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(object, &out);
  return out;
}

std::map<std::string, std::string> ParseFields(const std::optional<std::string>& json) {
  std::map<std::string, std::string> out;
  if (!json) return out;
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(*json, &object).ok()) return out;
  for (const auto& [key, value] : object.fields()) out[key] = value.string_value();
  return out;
}

constexpr const char* kUserColumns = "id, name, role, password_hash, disabled, created_ms";

UserRecord ReadUserRow(const SqlRow& r) {
  return UserRecord{r.Int(0), r.Text(1), r.Text(2), r.Text(3), r.Bool(4), r.Int(5)};
}

constexpr const char* kTokenColumns =
    "t.id, t.user_id, u.name, t.name, t.scope, t.created_by, t.created_ms, t.expires_ms, "
    "t.last_used_ms, t.revoked";

ApiTokenRecord ReadTokenRow(const SqlRow& r) {
  ApiTokenRecord t;
  t.id = r.Int(0);
  t.user_id = r.Int(1);
  t.user_name = r.Text(2);
  t.name = r.Text(3);
  t.scope = r.Text(4);
  t.created_by = r.Text(5);
  t.created_ms = r.Int(6);
  t.expires_ms = r.Int(7);
  t.last_used_ms = r.OptInt(8);
  t.revoked = r.Bool(9);
  return t;
}

}  // namespace

Status SqlBase::Audit(const AuditEntry& e) {
  const auto before = FieldsJson(e.before);
  const auto after = FieldsJson(e.after);
  auto optional_id = [](std::int64_t id) {
    return id != 0 ? std::optional<std::int64_t>(id) : std::nullopt;
  };
  return Do(
      "INSERT INTO audit_log (at_ms, actor_kind, actor, user_id, token_id, remote_address, "
      "action, resource, resource_id, before_json, after_json) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      {e.at_ms, e.actor.kind, e.actor.name, optional_id(e.actor.user_id),
       optional_id(e.actor.token_id), e.actor.address, e.action, e.resource, e.resource_id, before,
       after});
}

// Users ---------------------------------------------------------------------------------------

Result<std::int64_t> SqlAccess::AddUser(const UserRecord& user, const Actor& actor) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::int64_t id = 0;
  auto done = Run(
      "INSERT INTO users (name, role, password_hash, disabled, created_ms) VALUES (?, ?, ?, ?, ?) "
      "RETURNING id",
      {user.name, user.role, user.password_hash, user.disabled, user.created_ms},
      [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) {
    if (done.error().code == ErrorCode::kAlreadyExists) {
      return MakeError(ErrorCode::kAlreadyExists, "user '" + user.name + "' already exists");
    }
    return done.error();
  }
  ++rows_written_;
  auto entry = AuditOf("user.create", "user", id, actor, user.created_ms);
  entry.after = {
      {"name", user.name}, {"role", user.role}, {"disabled", user.disabled ? "true" : "false"}};
  if (auto s = Audit(entry); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return id;
}

Result<std::optional<UserRecord>> SqlAccess::ReadUser(const std::string& where, const SqlArg& key) {
  std::optional<UserRecord> user;
  auto done = Run(std::string("SELECT ") + kUserColumns + " FROM users WHERE " + where, {key},
                  [&](const SqlRow& r) { user = ReadUserRow(r); });
  if (!done) return done.error();
  return user;
}

Result<std::optional<UserRecord>> SqlAccess::FindUser(const std::string& name) {
  return ReadUser("name = ?", name);
}

Result<std::optional<UserRecord>> SqlAccess::GetUser(std::int64_t id) {
  return ReadUser("id = ?", id);
}

Result<std::vector<UserRecord>> SqlAccess::ListUsers() {
  std::vector<UserRecord> users;
  auto done = Run(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY " + Ordered("name"),
                  {}, [&](const SqlRow& r) { users.push_back(ReadUserRow(r)); });
  if (!done) return done.error();
  return users;
}

Result<std::int64_t> SqlAccess::EnabledAdmins() {
  std::int64_t count = 0;
  // FOR UPDATE on PostgreSQL: two admins demoting each other at once cannot both succeed.
  auto done = Run(std::string("SELECT id FROM users WHERE role = 'admin' AND NOT disabled") +
                      (Pg() ? " FOR UPDATE" : ""),
                  {}, [&](const SqlRow&) { ++count; });
  if (!done) return done.error();
  return count;
}

Status SqlAccess::EndSessions(std::int64_t user_id, bool tokens) {
  if (auto s = Do("UPDATE sessions SET ended = ? WHERE user_id = ? AND NOT ended", {true, user_id});
      !s) {
    return s;
  }
  if (!tokens) return {};
  return Do("UPDATE api_tokens SET revoked = ? WHERE user_id = ? AND NOT revoked", {true, user_id});
}

Result<UserRecord> SqlAccess::UpdateUser(std::int64_t id, const UserPatch& patch,
                                         const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto before = GetUser(id);
  if (!before) return before.error();
  if (!*before) return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(id));
  const UserRecord& old = **before;
  auto entry = AuditOf("user.update", "user", id, actor, now_ms);
  if (patch.role && *patch.role != old.role) {
    if (auto s = Do("UPDATE users SET role = ? WHERE id = ?", {*patch.role, id}); !s) {
      return s.error();
    }
    entry.before["role"] = old.role;
    entry.after["role"] = *patch.role;
  }
  if (patch.disabled && *patch.disabled != old.disabled) {
    if (auto s = Do("UPDATE users SET disabled = ? WHERE id = ?", {*patch.disabled, id}); !s) {
      return s.error();
    }
    entry.before["disabled"] = old.disabled ? "true" : "false";
    entry.after["disabled"] = *patch.disabled ? "true" : "false";
    if (*patch.disabled) {
      if (auto s = EndSessions(id, true); !s) return s.error();
    }
  }
  if (patch.password_hash) {
    if (auto s = Do("UPDATE users SET password_hash = ? WHERE id = ?", {*patch.password_hash, id});
        !s) {
      return s.error();
    }
    // The hash itself stays out of the log: that it changed is what matters.
    entry.before["password"] = "(set)";
    entry.after["password"] = "(changed)";
    if (auto s = EndSessions(id, false); !s) return s.error();
  }
  if (old.role == "admin" && !old.disabled &&
      (entry.after.count("role") != 0 || entry.after.count("disabled") != 0)) {
    auto admins = EnabledAdmins();
    if (!admins) return admins.error();
    if (*admins == 0) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "user '" + old.name + "' is the last enabled admin; make another first");
    }
  }
  if (!entry.after.empty()) {
    if (auto s = Audit(entry); !s) return s.error();
  }
  auto after = GetUser(id);
  if (!after) return after.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return **after;
}

// API tokens ----------------------------------------------------------------------------------

Result<std::int64_t> SqlAccess::CreateApiToken(const NewApiToken& token, const Actor& actor) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto user = FindUser(token.user_name);
  if (!user) return user.error();
  if (!*user) return MakeError(ErrorCode::kNotFound, "no user '" + token.user_name + "'");
  std::int64_t id = 0;
  auto done =
      Run("INSERT INTO api_tokens (user_id, token_hash, created_ms, expires_ms, name, scope, "
          "created_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
          {(*user)->id, token.token_hash, token.created_ms, token.expires_ms, token.name,
           token.scope, token.created_by},
          [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  ++rows_written_;
  auto entry = AuditOf("api_token.create", "api_token", id, actor, token.created_ms);
  entry.after = {{"user", token.user_name},
                 {"name", token.name},
                 {"scope", token.scope},
                 {"expiresMs", std::to_string(token.expires_ms)}};
  if (auto s = Audit(entry); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return id;
}

Result<std::vector<ApiTokenRecord>> SqlAccess::ListApiTokens(std::optional<std::int64_t> user_id) {
  std::vector<ApiTokenRecord> tokens;
  const std::string sql = std::string("SELECT ") + kTokenColumns +
                          " FROM api_tokens t JOIN users u ON u.id = t.user_id" +
                          (user_id ? " WHERE t.user_id = ?" : "") + " ORDER BY t.id";
  auto read = [&](const SqlRow& r) { tokens.push_back(ReadTokenRow(r)); };
  auto done = user_id ? Run(sql, {*user_id}, read) : Run(sql, {}, read);
  if (!done) return done.error();
  return tokens;
}

Result<std::optional<ApiTokenRecord>> SqlAccess::GetApiToken(std::int64_t id) {
  std::optional<ApiTokenRecord> token;
  auto done = Run(std::string("SELECT ") + kTokenColumns +
                      " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?",
                  {id}, [&](const SqlRow& r) { token = ReadTokenRow(r); });
  if (!done) return done.error();
  return token;
}

Status SqlAccess::RevokeApiToken(std::int64_t id, const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto token = GetApiToken(id);
  if (!token) return token.error();
  if (!*token) return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
  if (!(*token)->revoked) {
    if (auto s = Do("UPDATE api_tokens SET revoked = ? WHERE id = ?", {true, id}); !s) return s;
    auto entry = AuditOf("api_token.revoke", "api_token", id, actor, now_ms);
    entry.before = {{"revoked", "false"}};
    entry.after = {{"revoked", "true"}};
    if (auto s = Audit(entry); !s) return s;
  }
  return tx->Commit();
}

Result<std::optional<Principal>> SqlAccess::FindApiToken(const std::string& token_hash,
                                                         std::int64_t now_ms) {
  std::optional<Principal> principal;
  auto done = Run(
      "SELECT u.id, u.name, u.role, t.id, t.scope, t.last_used_ms FROM api_tokens t JOIN users u "
      "ON u.id = t.user_id WHERE t.token_hash = ? AND NOT t.revoked AND t.expires_ms > ? AND NOT "
      "u.disabled",
      {token_hash, now_ms}, [&](const SqlRow& r) {
        Principal p;
        p.user_id = r.Int(0);
        p.user_name = r.Text(1);
        p.role = r.Text(2);
        p.token_id = r.Int(3);
        p.scope = r.Text(4);
        p.last_used_ms = r.OptInt(5).value_or(0);
        principal = std::move(p);
      });
  if (!done) return done.error();
  return principal;
}

Status SqlAccess::TouchApiToken(std::int64_t id, std::int64_t now_ms) {
  return Do("UPDATE api_tokens SET last_used_ms = ? WHERE id = ?", {now_ms, id});
}

// Enrollment tokens ---------------------------------------------------------------------------

Result<std::int64_t> SqlAccess::CreateEnrollmentToken(const NewEnrollmentToken& token,
                                                      const Actor& actor) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::int64_t id = 0;
  auto done = Run(
      "INSERT INTO enrollment_tokens (token_hash, created_ms, expires_ms, max_hosts, created_by, "
      "name) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      {token.token_hash, token.created_ms, token.expires_ms, token.max_hosts, token.created_by,
       token.name},
      [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  ++rows_written_;
  auto entry = AuditOf("enrollment_token.create", "enrollment_token", id, actor, token.created_ms);
  entry.after = {{"name", token.name},
                 {"expiresMs", std::to_string(token.expires_ms)},
                 {"maxHosts", token.max_hosts ? std::to_string(*token.max_hosts) : ""}};
  if (auto s = Audit(entry); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return id;
}

Result<std::vector<EnrollmentTokenRecord>> SqlAccess::ListEnrollmentTokens() {
  std::vector<EnrollmentTokenRecord> tokens;
  auto done = Run(
      "SELECT id, name, created_by, created_ms, expires_ms, max_hosts, used_count, revoked FROM "
      "enrollment_tokens ORDER BY id",
      {}, [&](const SqlRow& r) {
        tokens.push_back(EnrollmentTokenRecord{r.Int(0), r.Text(1), r.Text(2), r.Int(3), r.Int(4),
                                               r.OptInt(5), r.Int(6), r.Bool(7)});
      });
  if (!done) return done.error();
  return tokens;
}

Status SqlAccess::RevokeEnrollmentToken(std::int64_t id, const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<bool> revoked;
  auto done = Run("SELECT revoked FROM enrollment_tokens WHERE id = ?", {id},
                  [&](const SqlRow& r) { revoked = r.Bool(0); });
  if (!done) return done.error();
  if (!revoked) {
    return MakeError(ErrorCode::kNotFound, "no enrollment token with id " + std::to_string(id));
  }
  if (!*revoked) {
    if (auto s = Do("UPDATE enrollment_tokens SET revoked = ? WHERE id = ?", {true, id}); !s) {
      return s;
    }
    auto entry = AuditOf("enrollment_token.revoke", "enrollment_token", id, actor, now_ms);
    entry.before = {{"revoked", "false"}};
    entry.after = {{"revoked", "true"}};
    if (auto s = Audit(entry); !s) return s;
  }
  return tx->Commit();
}

// Sessions ------------------------------------------------------------------------------------

Result<std::int64_t> SqlAccess::CreateSession(const NewSession& session, const Actor& actor) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::int64_t id = 0;
  auto done =
      Run("INSERT INTO sessions (token_hash, csrf_token, user_id, created_ms, last_used_ms, "
          "expires_ms, remote_address) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
          {session.token_hash, session.csrf_token, session.user_id, session.now_ms, session.now_ms,
           session.expires_ms, session.remote_address},
          [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  ++rows_written_;
  auto entry = AuditOf("session.create", "session", id, actor, session.now_ms);
  entry.after = {{"expiresMs", std::to_string(session.expires_ms)}};
  if (auto s = Audit(entry); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return id;
}

Result<std::optional<Principal>> SqlAccess::FindSession(const std::string& token_hash,
                                                        std::int64_t now_ms) {
  std::optional<Principal> principal;
  auto done =
      Run("SELECT u.id, u.name, u.role, s.id, s.csrf_token, s.last_used_ms FROM sessions s JOIN "
          "users u ON u.id = s.user_id WHERE s.token_hash = ? AND NOT s.ended AND s.expires_ms > ? "
          "AND NOT u.disabled",
          {token_hash, now_ms}, [&](const SqlRow& r) {
            Principal p;
            p.user_id = r.Int(0);
            p.user_name = r.Text(1);
            p.role = r.Text(2);
            p.session_id = r.Int(3);
            p.csrf_token = r.Text(4);
            p.last_used_ms = r.Int(5);
            principal = std::move(p);
          });
  if (!done) return done.error();
  return principal;
}

Status SqlAccess::TouchSession(std::int64_t id, std::int64_t now_ms) {
  return Do("UPDATE sessions SET last_used_ms = ? WHERE id = ?", {now_ms, id});
}

Status SqlAccess::EndSession(std::int64_t id, const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto done = Run("UPDATE sessions SET ended = ? WHERE id = ? AND NOT ended", {true, id});
  if (!done) return done.error();
  if (*done > 0) {
    ++rows_written_;
    if (auto s = Audit(AuditOf("session.end", "session", id, actor, now_ms)); !s) return s;
  }
  return tx->Commit();
}

// Audit log -----------------------------------------------------------------------------------

Status SqlAccess::AppendAudit(const AuditEntry& entry) { return Audit(entry); }

Result<AuditPage> SqlAccess::ListAudit(const AuditQuery& q) {
  std::string sql =
      "SELECT id, at_ms, actor_kind, actor, user_id, token_id, remote_address, action, resource, "
      "resource_id, before_json, after_json FROM audit_log WHERE 1 = 1";
  std::vector<SqlArg> args;
  if (q.from_ms) {
    sql += " AND at_ms >= ?";
    args.emplace_back(*q.from_ms);
  }
  if (q.to_ms) {
    sql += " AND at_ms < ?";
    args.emplace_back(*q.to_ms);
  }
  if (!q.actor.empty()) {
    sql += " AND actor = ?";
    args.emplace_back(q.actor);
  }
  std::string action_prefix;
  if (!q.action.empty() && q.action.back() == '.') {
    // A prefix "host." matches host.update, host.archive, ...; compared as a range so the
    // pattern needs no escaping.
    action_prefix = q.action.substr(0, q.action.size() - 1) + "/";  // '/' follows '.'
    sql += " AND action >= ? AND action < ?";
    args.emplace_back(q.action);
    args.emplace_back(action_prefix);
  } else if (!q.action.empty()) {
    sql += " AND action = ?";
    args.emplace_back(q.action);
  }
  if (!q.resource.empty()) {
    sql += " AND resource = ?";
    args.emplace_back(q.resource);
  }
  if (!q.resource_id.empty()) {
    sql += " AND resource_id = ?";
    args.emplace_back(q.resource_id);
  }
  if (q.before_id) {
    sql += " AND id < ?";
    args.emplace_back(*q.before_id);
  }
  sql += " ORDER BY id DESC LIMIT ?";
  args.emplace_back(q.limit + 1);
  AuditPage page;
  auto done = db_->Run(sql, args, [&](const SqlRow& r) {
    AuditEntry e;
    e.id = r.Int(0);
    e.at_ms = r.Int(1);
    e.actor.kind = r.Text(2);
    e.actor.name = r.Text(3);
    e.actor.user_id = r.OptInt(4).value_or(0);
    e.actor.token_id = r.OptInt(5).value_or(0);
    e.actor.address = r.Text(6);
    e.action = r.Text(7);
    e.resource = r.Text(8);
    e.resource_id = r.Text(9);
    e.before = ParseFields(r.IsNull(10) ? std::nullopt : std::optional(r.Text(10)));
    e.after = ParseFields(r.IsNull(11) ? std::nullopt : std::optional(r.Text(11)));
    page.items.push_back(std::move(e));
  });
  if (!done) return done.error();
  if (static_cast<int>(page.items.size()) > q.limit) {
    page.items.pop_back();
    page.next_before_id = page.items.back().id;
  }
  return page;
}

Result<CutOffAgents> SqlAccess::AgentsCutOffAfter(std::int64_t after_id) {
  CutOffAgents out;
  out.last_id = std::max<std::int64_t>(after_id, 0);
  if (after_id < 0) {
    auto done = Run("SELECT COALESCE(MAX(id), 0) FROM audit_log", {},
                    [&](const SqlRow& r) { out.last_id = r.Int(0); });
    if (!done) return done.error();
    return out;
  }
  // Walks the primary key from the cursor: a few new entries a tick.
  auto done =
      Run("SELECT id, action, after_json FROM audit_log WHERE id > ? ORDER BY id LIMIT 10000",
          {after_id}, [&](const SqlRow& r) {
            out.last_id = r.Int(0);
            const auto action = r.Text(1);
            if (action != "agent.revoke" && action != "host.archive") return;
            auto after = ParseFields(r.IsNull(2) ? std::nullopt : std::optional(r.Text(2)));
            if (auto it = after.find("agentId"); it != after.end() && !it->second.empty()) {
              out.agent_ids.push_back(it->second);
            }
          });
  if (!done) return done.error();
  return out;
}

}  // namespace fleetdesk::server::store
