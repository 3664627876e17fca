// Beast's request type to our plain Request, and whole requests parsed from bytes with the
// listener's limits. No coroutines here: the fuzzer links this file alone.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "server/http/http_server.hpp"
#include "server/http/message.hpp"

namespace fleetdesk::server::http {

Request ToRequest(const boost::beast::http::request<boost::beast::http::string_body>& in,
                  const std::string& remote);

}  // namespace fleetdesk::server::http
