// Sessions, users, API tokens, enrollment tokens and the audit log under /api/v1.
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/codec.hpp"
#include "common/config.hpp"
#include "fleetdesk/v1/access.pb.h"
#include "server/api/api.hpp"
#include "server/api/auth.hpp"
#include "server/api/params.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

using google::protobuf::util::TimeUtil;

void FillPermissions(const store::Principal& who, fleetdesk::v1::Session& out) {
  for (const auto& rule : access::kRules) {
    if (access::Authorize(who, {rule.resource, rule.action})) {
      out.add_permissions(std::string(rule.resource) + "." + std::string(rule.action));
    }
  }
}

// Small JSON bodies: a name, a role, a password.
constexpr std::size_t kMaxAccessBody = 16 * 1024;
// Passwords: long enough to resist guessing, short enough that hashing one costs what we expect.
constexpr std::size_t kMinPassword = 12;
constexpr std::size_t kMaxPassword = 1024;
// API tokens live 30 days unless asked otherwise, two years at most; enrollment tokens a day,
// a year at most.
constexpr std::chrono::seconds kTokenTtl{30 * 86400};
constexpr std::chrono::seconds kMaxTokenTtl{730 * 86400};
constexpr std::chrono::seconds kEnrollmentTtl{86400};
constexpr std::chrono::seconds kMaxEnrollmentTtl{365 * 86400};

template <typename M>
Result<M> Body(const http::Request& request) {
  return JsonBody<M>(request, kMaxAccessBody);
}

// User names: what people type at a sign-in prompt and scripts put in URLs.
Status CheckUserName(const std::string& name) {
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._-@") != std::string::npos) {
    return Invalid("name must be 1 to 64 lowercase letters, digits, '.', '_', '-' or '@'");
  }
  return {};
}

Status CheckPassword(const std::string& password, const char* field) {
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    return Invalid(std::string(field) + " must have 12 to 1024 characters");
  }
  return {};
}

Status CheckName(const std::string& name) {
  if (name.size() > 200) return Invalid("name is at most 200 characters");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return Invalid("name may not hold control characters");
  }
  return {};
}

Result<std::chrono::seconds> Ttl(const std::string& text, std::chrono::seconds fallback,
                                 std::chrono::seconds most) {
  if (text.empty()) return fallback;
  auto ttl = config::ParseDuration(text);
  if (!ttl) return Invalid("ttl: " + ttl.error().message);
  if (ttl->count() <= 0 || *ttl > most) {
    return Invalid("ttl must be more than 0 and at most " + std::to_string(most.count() / 86400) +
                   " days");
  }
  return *ttl;
}

fleetdesk::v1::User ToProto(const store::UserRecord& u) {
  fleetdesk::v1::User out;
  out.set_id(u.id);
  out.set_name(u.name);
  out.set_role(u.role);
  out.set_disabled(u.disabled);
  *out.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(u.created_ms);
  return out;
}

fleetdesk::v1::ApiToken ToProto(const store::ApiTokenRecord& t, std::int64_t now) {
  fleetdesk::v1::ApiToken out;
  out.set_id(t.id);
  out.set_user(t.user_name);
  out.set_name(t.name);
  out.set_scope(t.scope);
  out.set_created_by(t.created_by);
  *out.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(t.created_ms);
  *out.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(t.expires_ms);
  if (t.last_used_ms) {
    *out.mutable_last_used_at() = TimeUtil::MillisecondsToTimestamp(*t.last_used_ms);
  }
  out.set_revoked(t.revoked);
  out.set_state(t.revoked ? "revoked" : t.expires_ms <= now ? "expired" : "active");
  return out;
}

fleetdesk::v1::EnrollmentToken ToProto(const store::EnrollmentTokenRecord& t, std::int64_t now) {
  fleetdesk::v1::EnrollmentToken out;
  out.set_id(t.id);
  out.set_name(t.name);
  out.set_created_by(t.created_by);
  *out.mutable_created_at() = TimeUtil::MillisecondsToTimestamp(t.created_ms);
  *out.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(t.expires_ms);
  out.set_max_hosts(t.max_hosts.value_or(0));
  out.set_used_count(t.used_count);
  out.set_revoked(t.revoked);
  out.set_state(t.revoked                                     ? "revoked"
                : t.expires_ms <= now                         ? "expired"
                : t.max_hosts && t.used_count >= *t.max_hosts ? "used_up"
                                                              : "active");
  return out;
}

std::string SetCookie(const std::string& value, std::int64_t max_age_s) {
  // Secure: the API is HTTPS only. HttpOnly: page scripts cannot read it. SameSite=Strict: a
  // browser does not send it with requests that other sites start.
  return std::string(auth::kSessionCookie) + "=" + value +
         "; Path=/; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; Secure; SameSite=Strict";
}

}  // namespace

// Sessions ------------------------------------------------------------------------------------

Result<http::Response> Api::SignIn(const Call& call) {
  auto body = Body<fleetdesk::v1::SignInRequest>(call.request);
  if (!body) return body.error();
  if (body->name().empty() || body->password().empty()) {
    return Invalid("name and password are required");
  }
  if (body->name().size() > 64 || body->password().size() > kMaxPassword) {
    return Invalid("name is at most 64 characters and password at most 1024");
  }
  const auto& address = call.request.remote_address;
  const auto now = std::chrono::steady_clock::now();
  if (auto s = throttle_.Check(body->name(), address, now); !s) return s.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto user = (*store)->FindUser(body->name());
  if (!user) return user.error();
  // One answer for an unknown name, a wrong password and a disabled user, in the same time:
  // a caller cannot learn which names exist.
  bool ok = false;
  if (*user) {
    ok = auth::VerifyPassword((*user)->password_hash, body->password()) && !(*user)->disabled;
  } else {
    auth::VerifyAgainstNobody(body->password());
  }
  if (!ok) {
    throttle_.Failed(body->name(), address, now);
    store::AuditEntry entry;
    entry.at_ms = NowMs();
    entry.actor.kind = "user";
    entry.actor.name = body->name();
    entry.actor.address = address;
    entry.action = "session.refuse";
    entry.resource = "session";
    (void)(*store)->AppendAudit(entry);
    return MakeError(ErrorCode::kUnauthenticated, "the name or the password is wrong");
  }
  throttle_.Succeeded(body->name());
  const auto token = auth::NewSessionToken();
  store::NewSession session;
  session.token_hash = auth::HashToken(token);
  session.csrf_token = auth::NewCsrfToken();
  session.user_id = (*user)->id;
  session.now_ms = NowMs();
  const auto max_age_s = options_.session_max_age.count();
  session.expires_ms = session.now_ms + max_age_s * 1000;
  session.remote_address = address;
  store::Principal who;
  who.user_id = (*user)->id;
  who.user_name = (*user)->name;
  who.role = (*user)->role;
  auto id = (*store)->CreateSession(session, store::Actor::Of(who, address));
  if (!id) return id.error();
  fleetdesk::v1::Session out;
  *out.mutable_user() = ToProto(**user);
  out.set_via("session");
  out.set_csrf_token(session.csrf_token);
  *out.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(session.expires_ms);
  out.set_idle_timeout_seconds(options_.session_idle_timeout.count());
  FillPermissions(who, out);
  auto response = Json(201, out);
  response.headers.emplace_back("Set-Cookie", SetCookie(token, max_age_s));
  return response;
}

Result<http::Response> Api::GetSession(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto user = (*store)->GetUser(call.who->user_id);
  if (!user) return user.error();
  if (!*user) return MakeError(ErrorCode::kUnauthenticated, "the user no longer exists");
  fleetdesk::v1::Session out;
  *out.mutable_user() = ToProto(**user);
  if (call.who->session_id != 0) {
    out.set_via("session");
    out.set_csrf_token(call.who->csrf_token);
    out.set_idle_timeout_seconds(options_.session_idle_timeout.count());
  } else {
    out.set_via("token");
    out.set_token_scope(call.who->scope);
    auto token = (*store)->GetApiToken(call.who->token_id);
    if (!token) return token.error();
    if (*token) *out.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp((*token)->expires_ms);
  }
  FillPermissions(*call.who, out);
  return Json(200, out);
}

Result<http::Response> Api::SignOut(const Call& call) {
  if (call.who->session_id == 0) {
    return Invalid(
        "this call was made with an API token, not a session; revoke a token with "
        "DELETE /api/v1/tokens/{id}");
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto s = (*store)->EndSession(call.who->session_id, call.Actor(), NowMs()); !s) {
    return s.error();
  }
  http::Response response;
  response.status = 204;
  response.headers.emplace_back("Set-Cookie", SetCookie("", 0));
  return response;
}

Result<http::Response> Api::ChangeOwnPassword(const Call& call) {
  auto body = Body<fleetdesk::v1::PasswordChange>(call.request);
  if (!body) return body.error();
  if (auto s = CheckPassword(body->new_password(), "newPassword"); !s) return s.error();
  if (call.who->token_id != 0 && call.who->scope != "full") {
    return MakeError(ErrorCode::kPermissionDenied, "this API token's scope is " + call.who->scope +
                                                       "; a password change needs a "
                                                       "full scope");
  }
  const auto now = std::chrono::steady_clock::now();
  const auto& address = call.request.remote_address;
  if (auto s = throttle_.Check(call.who->user_name, address, now); !s) return s.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto user = (*store)->GetUser(call.who->user_id);
  if (!user) return user.error();
  if (!*user || !auth::VerifyPassword((*user)->password_hash, body->current_password())) {
    throttle_.Failed(call.who->user_name, address, now);
    return MakeError(ErrorCode::kPermissionDenied, "currentPassword is wrong");
  }
  auto hash = auth::HashPassword(body->new_password());
  if (!hash) return hash.error();
  store::UserPatch patch;
  patch.password_hash = *hash;
  auto changed = (*store)->UpdateUser(call.who->user_id, patch, call.Actor(), NowMs());
  if (!changed) return changed.error();
  http::Response response;
  response.status = 204;
  // Every session of the user has ended, this one too.
  if (call.who->session_id != 0) response.headers.emplace_back("Set-Cookie", SetCookie("", 0));
  return response;
}

// Users ---------------------------------------------------------------------------------------

Result<http::Response> Api::ListUsers(const Call&) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto users = (*store)->ListUsers();
  if (!users) return users.error();
  fleetdesk::v1::UserList out;
  for (const auto& u : *users) *out.add_items() = ToProto(u);
  return Json(200, out);
}

Result<http::Response> Api::CreateUser(const Call& call) {
  auto body = Body<fleetdesk::v1::NewUser>(call.request);
  if (!body) return body.error();
  if (auto s = CheckUserName(body->name()); !s) return s.error();
  if (!access::ValidRole(body->role())) {
    return Invalid("role must be admin, operator, requester or viewer");
  }
  std::string password = body->password();
  const bool made = password.empty();
  if (made) password = auth::NewPassword();
  if (auto s = CheckPassword(password, "password"); !s) return s.error();
  auto hash = auth::HashPassword(password);
  if (!hash) return hash.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  store::UserRecord user{0, body->name(), body->role(), *hash, false, NowMs()};
  auto id = (*store)->AddUser(user, call.Actor());
  if (!id) return id.error();
  user.id = *id;
  fleetdesk::v1::CreatedUser out;
  *out.mutable_user() = ToProto(user);
  if (made) out.set_password(password);
  return Json(201, out);
}

Result<http::Response> Api::GetUser(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto user = (*store)->GetUser(call.id());
  if (!user) return user.error();
  if (!*user)
    return MakeError(ErrorCode::kNotFound, "no user with id " + std::to_string(call.id()));
  return Json(200, ToProto(**user));
}

Result<http::Response> Api::PatchUser(const Call& call) {
  auto body = Body<fleetdesk::v1::UserChange>(call.request);
  if (!body) return body.error();
  store::UserPatch patch;
  if (body->has_role()) {
    if (!access::ValidRole(body->role())) {
      return Invalid("role must be admin, operator, requester or viewer");
    }
    patch.role = body->role();
  }
  if (body->has_disabled()) patch.disabled = body->disabled();
  if (body->has_password()) {
    if (auto s = CheckPassword(body->password(), "password"); !s) return s.error();
    auto hash = auth::HashPassword(body->password());
    if (!hash) return hash.error();
    patch.password_hash = *hash;
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto user = (*store)->UpdateUser(call.id(), patch, call.Actor(), NowMs());
  if (!user) return user.error();
  return Json(200, ToProto(*user));
}

// API tokens ----------------------------------------------------------------------------------

Result<http::Response> Api::ListApiTokens(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  std::optional<std::int64_t> user_id = call.who->user_id;
  for (const auto& [key, value] : *query) {
    if (key != "all") return Invalid("tokens take the parameter all=true, not '" + key + "'");
    if (value != "true" && value != "false") return Invalid("all must be true or false");
    if (value == "true") {
      if (auto s = access::Authorize(*call.who, {"api_tokens", "any"}); !s) return s.error();
      user_id.reset();
    }
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto tokens = (*store)->ListApiTokens(user_id);
  if (!tokens) return tokens.error();
  fleetdesk::v1::ApiTokenList out;
  const auto now = NowMs();
  for (const auto& t : *tokens) *out.add_items() = ToProto(t, now);
  return Json(200, out);
}

Result<http::Response> Api::CreateApiToken(const Call& call) {
  auto body = Body<fleetdesk::v1::NewApiToken>(call.request);
  if (!body) return body.error();
  if (auto s = CheckName(body->name()); !s) return s.error();
  const std::string scope = body->scope().empty() ? "full" : body->scope();
  if (std::find(std::begin(store::kTokenScopes), std::end(store::kTokenScopes), scope) ==
      std::end(store::kTokenScopes)) {
    return Invalid("scope must be read, worklog or full");
  }
  // A token cannot do more than the one that made it.
  if (call.who->token_id != 0 && call.who->scope != "full" && scope != call.who->scope) {
    return MakeError(ErrorCode::kPermissionDenied, "a " + call.who->scope + " token may make " +
                                                       call.who->scope + " tokens only");
  }
  auto ttl = Ttl(body->ttl(), kTokenTtl, kMaxTokenTtl);
  if (!ttl) return ttl.error();
  std::string user = call.who->user_name;
  if (!body->user().empty() && body->user() != user) {
    if (auto s = access::Authorize(*call.who, {"api_tokens", "any"}); !s) return s.error();
    user = body->user();
  }
  const auto secret = auth::NewApiToken();
  store::NewApiToken token;
  token.user_name = user;
  token.token_hash = auth::HashToken(secret);
  token.name = body->name();
  token.scope = scope;
  token.created_by = call.who->user_name;
  token.created_ms = NowMs();
  token.expires_ms = token.created_ms + ttl->count() * 1000;
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto id = (*store)->CreateApiToken(token, call.Actor());
  if (!id) return id.error();
  auto made = (*store)->GetApiToken(*id);
  if (!made) return made.error();
  fleetdesk::v1::CreatedApiToken out;
  *out.mutable_token() = ToProto(**made, NowMs());
  out.set_secret(secret);
  return Json(201, out);
}

Result<http::Response> Api::RevokeApiToken(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto token = (*store)->GetApiToken(call.id());
  if (!token) return token.error();
  const auto missing =
      MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(call.id()));
  if (!*token) return missing;
  if ((*token)->user_id != call.who->user_id &&
      !access::RoleMay(call.who->role, {"api_tokens", "any"})) {
    return missing;  // others' tokens are not even there for those who may not see them
  }
  if (auto s = (*store)->RevokeApiToken(call.id(), call.Actor(), NowMs()); !s) return s.error();
  auto after = (*store)->GetApiToken(call.id());
  if (!after) return after.error();
  return Json(200, ToProto(**after, NowMs()));
}

// Enrollment tokens ---------------------------------------------------------------------------

Result<http::Response> Api::ListEnrollmentTokens(const Call&) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto tokens = (*store)->ListEnrollmentTokens();
  if (!tokens) return tokens.error();
  fleetdesk::v1::EnrollmentTokenList out;
  const auto now = NowMs();
  for (const auto& t : *tokens) *out.add_items() = ToProto(t, now);
  return Json(200, out);
}

Result<http::Response> Api::CreateEnrollmentToken(const Call& call) {
  auto body = Body<fleetdesk::v1::NewEnrollmentToken>(call.request);
  if (!body) return body.error();
  if (auto s = CheckName(body->name()); !s) return s.error();
  if (body->max_hosts() < 0) return Invalid("maxHosts must be 0 (no limit) or more");
  auto ttl = Ttl(body->ttl(), kEnrollmentTtl, kMaxEnrollmentTtl);
  if (!ttl) return ttl.error();
  const auto secret = auth::NewEnrollmentToken();
  store::NewEnrollmentToken token;
  token.token_hash = auth::HashToken(secret);
  token.created_ms = NowMs();
  token.expires_ms = token.created_ms + ttl->count() * 1000;
  if (body->max_hosts() > 0) token.max_hosts = body->max_hosts();
  token.created_by = call.who->user_name;
  token.name = body->name();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto id = (*store)->CreateEnrollmentToken(token, call.Actor());
  if (!id) return id.error();
  fleetdesk::v1::CreatedEnrollmentToken out;
  *out.mutable_token() =
      ToProto(store::EnrollmentTokenRecord{*id, token.name, token.created_by, token.created_ms,
                                           token.expires_ms, token.max_hosts, 0, false},
              NowMs());
  out.set_secret(secret);
  return Json(201, out);
}

Result<http::Response> Api::RevokeEnrollmentToken(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto s = (*store)->RevokeEnrollmentToken(call.id(), call.Actor(), NowMs()); !s) {
    return s.error();
  }
  auto tokens = (*store)->ListEnrollmentTokens();
  if (!tokens) return tokens.error();
  for (const auto& t : *tokens) {
    if (t.id == call.id()) return Json(200, ToProto(t, NowMs()));
  }
  return MakeError(ErrorCode::kNotFound,
                   "no enrollment token with id " + std::to_string(call.id()));
}

// Agents --------------------------------------------------------------------------------------

Result<http::Response> Api::RevokeAgent(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto host = (*store)->RevokeAgent(call.agent, call.Actor(), NowMs());
  if (!host) return host.error();
  // Refused from its next hello on, and cut off now if its channel is on this server; other
  // servers close theirs within a jobs tick (FleetJobs reads the audit log).
  engine_.Upsert(*host);
  if (close_channel_) close_channel_(call.agent, "this agent's certificate has been revoked");
  spdlog::warn("agent {} (host {}) revoked by {} from {}", call.agent, host->id,
               call.who->user_name, call.request.remote_address);
  http::Response response;
  response.body = R"({"agentId":")" + call.agent + R"(","hostId":")" + std::to_string(host->id) +
                  R"(","revoked":true})";
  return response;
}

// Audit log -----------------------------------------------------------------------------------

Result<http::Response> Api::ListAudit(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(
          *query, {"from", "to", "actor", "action", "resource", "resourceId", "cursor", "limit"},
          "the audit log");
      !s) {
    return s.error();
  }
  store::AuditQuery q;
  auto limit = ParseLimit(*query, 100, 1000);
  if (!limit) return limit.error();
  q.limit = *limit;
  for (const auto& [key, value] : *query) {
    if (key == "from" || key == "to") {
      auto t = ParseTime(value, key);
      if (!t) return t.error();
      (key == "from" ? q.from_ms : q.to_ms) = *t;
    } else if (key == "actor") {
      q.actor = value;
    } else if (key == "action") {
      q.action = value;
    } else if (key == "resource") {
      q.resource = value;
    } else if (key == "resourceId") {
      q.resource_id = value;
    } else if (key == "cursor") {
      auto before = ParseCursor(value);
      if (!before) return before.error();
      q.before_id = *before;
    }
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto page = (*store)->ListAudit(q);
  if (!page) return page.error();
  fleetdesk::v1::AuditPage out;
  for (const auto& e : page->items) {
    auto* item = out.add_items();
    item->set_id(e.id);
    *item->mutable_at() = TimeUtil::MillisecondsToTimestamp(e.at_ms);
    auto* actor = item->mutable_actor();
    actor->set_kind(e.actor.kind);
    actor->set_name(e.actor.name);
    actor->set_user_id(e.actor.user_id);
    actor->set_token_id(e.actor.token_id);
    actor->set_address(e.actor.address);
    item->set_action(e.action);
    item->set_resource(e.resource);
    item->set_resource_id(e.resource_id);
    item->mutable_before()->insert(e.before.begin(), e.before.end());
    item->mutable_after()->insert(e.after.begin(), e.after.end());
  }
  if (page->next_before_id) out.set_next_cursor(std::to_string(*page->next_before_id));
  return Json(200, out);
}

}  // namespace fleetdesk::server::api
