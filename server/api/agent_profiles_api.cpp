// Agent profiles under /api/v1/agent-profiles: agent settings kept on the server and assigned by
// tag (link checks, service patterns, intervals), pushed by each server's task thread to the
// agents connected to it; and /api/v1/hosts/{id}/agent-config, what a host gets.
#include <google/protobuf/util/time_util.h>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "server/api/api.hpp"
#include "server/api/hosts_io.hpp"
#include "server/api/params.hpp"
#include "server/engine/agent_profiles.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

constexpr std::size_t kMaxProfileBody = 1024 * 1024;

fleetdesk::v1::AgentProfile ToProto(const store::AgentProfileRecord& r) {
  fleetdesk::v1::AgentProfile out;
  out.set_id(r.id);
  out.set_name(r.name);
  out.set_tag(r.tag);
  out.set_priority(r.priority);
  (void)codec::FromJson(r.config, out.mutable_config());
  out.set_updated_by(r.updated_by);
  *out.mutable_updated_at() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(r.updated_ms);
  return out;
}

// The request's profile, checked; its config normalized and stored as JSON.
Result<store::AgentProfileRecord> ProfileFromBody(const http::Request& request) {
  auto body = JsonBody<fleetdesk::v1::AgentProfile>(request, kMaxProfileBody);
  if (!body) return body.error();
  if (body->id() != 0 || !body->updated_by().empty() || body->has_updated_at()) {
    return Invalid("id, updatedBy and updatedAt are the server's to set");
  }
  const std::string& name = body->name();
  if (name.empty() || name.size() > 100 || !ValidUtf8(name) || HasControl(name, false)) {
    return Invalid("name is required: 1 to 100 bytes of UTF-8 without control characters");
  }
  if (!body->tag().empty()) {
    if (auto s = CheckTags({body->tag()}); !s) return s.error();
  }
  if (body->priority() < -1000 || body->priority() > 1000) {
    return Invalid("priority is from -1000 to 1000");
  }
  if (auto s = engine::NormalizeProfileConfig(body->mutable_config()); !s) return s.error();
  store::AgentProfileRecord record;
  record.name = name;
  record.tag = body->tag();
  record.priority = body->priority();
  record.config = codec::ToJson(body->config());
  return record;
}

}  // namespace

Result<http::Response> Api::ListAgentProfiles(const Call& call) {
  if (!call.request.query.empty()) return Invalid("agent profiles take no query parameters");
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto profiles = (*store)->ListAgentProfiles();
  if (!profiles) return profiles.error();
  fleetdesk::v1::AgentProfileList out;
  for (const auto& p : *profiles) *out.add_items() = ToProto(p);
  return Json(200, out);
}

Result<http::Response> Api::CreateAgentProfile(const Call& call) {
  auto record = ProfileFromBody(call.request);
  if (!record) return record.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto saved = (*store)->SaveAgentProfile(*record, call.Actor(), NowMs());
  if (!saved) return saved.error();
  return Json(201, ToProto(*saved));
}

Result<http::Response> Api::UpdateAgentProfile(const Call& call) {
  auto record = ProfileFromBody(call.request);
  if (!record) return record.error();
  record->id = call.id();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto saved = (*store)->SaveAgentProfile(*record, call.Actor(), NowMs());
  if (!saved) return saved.error();
  return Json(200, ToProto(*saved));
}

Result<http::Response> Api::DeleteAgentProfile(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto s = (*store)->DeleteAgentProfile(call.id(), call.Actor(), NowMs()); !s) return s.error();
  http::Response response;
  response.status = 204;
  return response;
}

Result<http::Response> Api::HostAgentConfig(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto host = (*store)->GetHostView(call.id());
  if (!host) return host.error();
  if (!*host) return MakeError(ErrorCode::kNotFound, "no host has id " + std::to_string(call.id()));
  auto profiles = (*store)->ListAgentProfiles();
  if (!profiles) return profiles.error();
  return Json(200, engine::Effective(engine::ParseProfiles(*profiles), (*host)->attributes.tags));
}

}  // namespace fleetdesk::server::api
