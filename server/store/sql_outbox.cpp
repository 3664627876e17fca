// The notifications' outbox over SqlConn: what the notifier must deliver, leased to one server at
// a time by moving its due time, so a server that dies mid-delivery leaves it due again.
#include "server/store/sql_base.hpp"

namespace fleetdesk::server::store {
namespace {

constexpr const char* kColumns =
    "id, ticket_id, event, route, channel, target, subject, body, attempts, created_ms, next_ms, "
    "delivered_ms, failed_ms, last_error";

NotificationRecord ReadRow(const SqlRow& r) {
  NotificationRecord n;
  n.id = r.Int(0);
  n.ticket_id = r.Int(1);
  n.event = r.Text(2);
  n.route = r.Text(3);
  n.channel = r.Text(4);
  n.target = r.Text(5);
  n.subject = r.Text(6);
  n.body = r.Text(7);
  n.attempts = static_cast<int>(r.Int(8));
  n.created_ms = r.Int(9);
  n.next_ms = r.Int(10);
  n.delivered_ms = r.OptInt(11);
  n.failed_ms = r.OptInt(12);
  n.last_error = r.Text(13);
  return n;
}

}  // namespace

Status SqlTickets::EnqueueNotifications(const std::vector<NotificationRecord>& items) {
  if (items.empty()) return {};
  auto tx = BeginTx();
  if (!tx) return tx.error();
  if (auto s = InsertNotifications(items); !s) return s;
  return tx->Commit();
}

Status SqlTickets::Notify(const std::string& event, const TicketRecord& ticket,
                          std::int64_t at_ms) {
  if (!outbox_) return {};
  return InsertNotifications(outbox_(event, ticket, at_ms));
}

Status SqlTickets::InsertNotifications(const std::vector<NotificationRecord>& items) {
  for (const auto& n : items) {
    if (auto s = Do("INSERT INTO notifications (ticket_id, event, route, channel, target, "
                    "subject, body, created_ms, next_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    {n.ticket_id, n.event, n.route, n.channel, n.target, n.subject, n.body,
                     n.created_ms, n.next_ms});
        !s) {
      return s;
    }
  }
  return {};
}

Result<std::optional<NotificationRecord>> SqlTickets::ClaimNotification(std::int64_t now_ms,
                                                                        std::int64_t lease_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<NotificationRecord> out;
  // PostgreSQL: a row another server is taking is skipped, not waited for.
  auto done = Run(std::string("SELECT ") + kColumns +
                      " FROM notifications WHERE delivered_ms IS NULL AND failed_ms IS NULL AND "
                      "next_ms <= ? ORDER BY next_ms, id LIMIT 1" +
                      (Pg() ? " FOR UPDATE SKIP LOCKED" : ""),
                  {now_ms}, [&](const SqlRow& r) { out = ReadRow(r); });
  if (!done) return done.error();
  if (!out) return out;
  ++out->attempts;
  out->next_ms = now_ms + lease_ms;
  if (auto s = Do("UPDATE notifications SET attempts = ?, next_ms = ? WHERE id = ?",
                  {out->attempts, out->next_ms, out->id});
      !s) {
    return s.error();
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Status SqlTickets::FinishNotification(std::int64_t id, bool delivered, std::int64_t now_ms,
                                      const std::string& error,
                                      std::optional<std::int64_t> retry_at_ms) {
  if (delivered) {
    return Do("UPDATE notifications SET delivered_ms = ?, last_error = '' WHERE id = ?",
              {now_ms, id});
  }
  if (retry_at_ms) {
    return Do("UPDATE notifications SET next_ms = ?, last_error = ? WHERE id = ?",
              {*retry_at_ms, error, id});
  }
  return Do("UPDATE notifications SET failed_ms = ?, last_error = ? WHERE id = ?",
            {now_ms, error, id});
}

Result<std::vector<NotificationRecord>> SqlTickets::ListNotifications(std::int64_t ticket_id) {
  std::vector<NotificationRecord> out;
  auto done =
      Run(std::string("SELECT ") + kColumns + " FROM notifications WHERE ticket_id = ? ORDER BY id",
          {ticket_id}, [&](const SqlRow& r) { out.push_back(ReadRow(r)); });
  if (!done) return done.error();
  return out;
}

}  // namespace fleetdesk::server::store
