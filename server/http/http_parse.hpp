// Beast's request type to our plain Request, and whole requests parsed from bytes with the
// listener's limits. No coroutines here: the fuzzer links this file alone.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "server/http/http_server.hpp"
#include "server/http/message.hpp"

namespace fleetdesk::server::http {

// The body limit of a request for `target`: HttpServerOptions::larger_bodies, else max_body_bytes.
// Beast checks a Content-Length against its limit as the header ends, before the target can be
// looked at: the parser starts with the largest limit (LargestBodyLimit), and once the header is
// in, BodyFits checks the declared length and narrows the limit for chunked bodies.
std::size_t BodyLimit(const HttpServerOptions& options, std::string_view target);
std::size_t LargestBodyLimit(const HttpServerOptions& options);
bool BodyFits(boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
              const HttpServerOptions& options);

Request ToRequest(const boost::beast::http::request<boost::beast::http::string_body>& in,
                  const std::string& remote);

}  // namespace fleetdesk::server::http
