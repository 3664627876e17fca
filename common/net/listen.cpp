#include "common/net/listen.hpp"

namespace fleetdesk::net {

Status Listen(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address,
              unsigned short port, const std::string& what) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     what + " address '" + address + "' is not an IP address");
  }
  asio::ip::tcp::endpoint endpoint(ip, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen for " + what + " on " + address + ":" +
                                                  std::to_string(port) + ": " + ec.message());
  }
  return {};
}

}  // namespace fleetdesk::net
