// A ticket as the API and the notifications show it: the Ticket message of tickets.proto.
#pragma once

#include "fleetdesk/v1/tickets.pb.h"
#include "server/store/ticket_model.hpp"

namespace fleetdesk::server::engine {

// Every field but `actions`, which depend on who asks.
fleetdesk::v1::Ticket TicketProto(const store::TicketRecord& ticket);

}  // namespace fleetdesk::server::engine
