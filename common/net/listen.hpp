// Opening a listening socket, the same way for every fleetdesk listener.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "common/result.hpp"

namespace fleetdesk::net {

// Opens `acceptor` on ADDRESS:PORT with SO_REUSEADDR and the system's largest backlog (a fleet
// reconnecting at once arrives in bursts). Errors name `what` and the address.
Status Listen(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address,
              unsigned short port, const std::string& what);

}  // namespace fleetdesk::net
