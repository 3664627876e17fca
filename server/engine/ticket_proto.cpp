#include "server/engine/ticket_proto.hpp"

#include <google/protobuf/util/time_util.h>

namespace fleetdesk::server::engine {
namespace {

google::protobuf::Timestamp Timestamp(std::int64_t ms) {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(ms);
}

}  // namespace

fleetdesk::v1::Ticket TicketProto(const store::TicketRecord& t) {
  fleetdesk::v1::Ticket out;
  out.set_id(t.id);
  out.set_kind(t.kind);
  out.set_title(t.title);
  out.set_description(t.description);
  out.set_state(t.state);
  out.set_category(t.category);
  out.set_impact(t.impact);
  out.set_urgency(t.urgency);
  out.set_priority(t.priority);
  out.set_priority_reason(t.priority_reason);
  out.set_host_id(t.host_id.value_or(0));
  out.set_hostname(t.hostname);
  out.set_fingerprint(t.fingerprint);
  out.set_source_kind(t.source_kind);
  out.set_subject(t.subject);
  out.set_occurrences(t.occurrences);
  out.set_flapping(t.flapping);
  out.set_auto_resolve(t.auto_resolve);
  if (t.recovered_ms) *out.mutable_recovered_at() = Timestamp(*t.recovered_ms);
  *out.mutable_last_seen() = Timestamp(t.last_seen_ms);
  out.set_group(t.group);
  out.set_assignee_id(t.assignee_id.value_or(0));
  out.set_assignee(t.assignee);
  out.set_requester_id(t.requester_id.value_or(0));
  out.set_requester(t.requester);
  out.set_created_by(t.created_by);
  *out.mutable_created_at() = Timestamp(t.created_ms);
  *out.mutable_updated_at() = Timestamp(t.updated_ms);
  if (t.responded_ms) *out.mutable_responded_at() = Timestamp(*t.responded_ms);
  if (t.resolved_ms) *out.mutable_resolved_at() = Timestamp(*t.resolved_ms);
  if (t.closed_ms) *out.mutable_closed_at() = Timestamp(*t.closed_ms);
  auto* sla = out.mutable_sla();
  if (auto due = t.ResponseDueMs(); due && !t.resolved_ms)
    *sla->mutable_response_due() = Timestamp(*due);
  if (auto due = t.ResolutionDueMs(); due) *sla->mutable_resolution_due() = Timestamp(*due);
  sla->set_paused(t.paused_since_ms.has_value());
  if (t.response_breached_ms)
    *sla->mutable_response_breached_at() = Timestamp(*t.response_breached_ms);
  if (t.resolution_breached_ms) {
    *sla->mutable_resolution_breached_at() = Timestamp(*t.resolution_breached_ms);
  }
  sla->set_response_target_seconds(t.response_target_ms / 1000);
  sla->set_resolution_target_seconds(t.resolution_target_ms / 1000);
  out.set_worklog_count(t.worklog_count);
  return out;
}

}  // namespace fleetdesk::server::engine
