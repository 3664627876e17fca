#include "common/net/check_spec.hpp"

#include <algorithm>
#include <regex>

#include "common/net/https_client.hpp"

namespace fleetdesk::checks {
namespace {

Status Invalid(const fleetdesk::v1::CheckSpec& spec, const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, "check '" + spec.key() + "': " + what);
}

bool IsToken(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

}  // namespace

std::string KindName(fleetdesk::v1::CheckKind kind) {
  switch (kind) {
    case fleetdesk::v1::CHECK_KIND_HTTP:
      return "http";
    case fleetdesk::v1::CHECK_KIND_TCP:
      return "tcp";
    case fleetdesk::v1::CHECK_KIND_DNS:
      return "dns";
    default:
      return "";
  }
}

Status Normalize(fleetdesk::v1::CheckSpec* spec) {
  if (spec->key().empty() || spec->key().size() > 128) {
    return Invalid(*spec, "name must be 1 to 128 characters");
  }
  if (spec->interval_seconds() == 0) spec->set_interval_seconds(60);
  if (spec->timeout_ms() == 0) {
    spec->set_timeout_ms(std::min<std::uint32_t>(5000, spec->interval_seconds() * 1000));
  }
  if (spec->timeout_ms() > 120000) return Invalid(*spec, "timeout must be at most 120s");
  if (spec->timeout_ms() > spec->interval_seconds() * 1000ULL) {
    return Invalid(*spec, "timeout must not be longer than the interval");
  }
  switch (spec->kind()) {
    case fleetdesk::v1::CHECK_KIND_HTTP: {
      auto url = net::ParseAnyUrl(spec->target());
      if (!url || (url->scheme != "https" && url->scheme != "http")) {
        return Invalid(*spec,
                       "target must be an http:// or https:// URL, not '" + spec->target() + "'");
      }
      if (spec->method().empty()) spec->set_method("GET");
      if (!IsToken(spec->method())) {
        return Invalid(*spec,
                       "method must be an upper-case HTTP method, not '" + spec->method() + "'");
      }
      for (auto status : spec->expect_status()) {
        if (status < 100 || status > 599) {
          return Invalid(*spec,
                         "expect_status " + std::to_string(status) + " is not an HTTP status");
        }
      }
      if (spec->max_redirects() > 20) return Invalid(*spec, "max_redirects must be 0 to 20");
      if (!spec->body_regex().empty()) {
        try {
          std::regex check(spec->body_regex());
        } catch (const std::regex_error& e) {
          return Invalid(*spec, "body_regex does not compile: " + std::string(e.what()));
        }
      }
      for (const auto& [name, value] : spec->headers()) {
        if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos ||
            value.find_first_of("\r\n") != std::string::npos) {
          return Invalid(*spec, "header '" + name + "' is not a valid header");
        }
      }
      break;
    }
    case fleetdesk::v1::CHECK_KIND_TCP: {
      auto colon = spec->target().rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == spec->target().size()) {
        return Invalid(*spec, "target must be HOST:PORT, not '" + spec->target() + "'");
      }
      auto port = spec->target().substr(colon + 1);
      if (port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
          std::stoul(port) > 65535) {
        return Invalid(*spec, "target's port must be 1 to 65535, not '" + port + "'");
      }
      break;
    }
    case fleetdesk::v1::CHECK_KIND_DNS:
      if (spec->target().empty()) return Invalid(*spec, "target must be a name to resolve");
      if (!spec->record_type().empty() && spec->record_type() != "A" &&
          spec->record_type() != "AAAA") {
        return Invalid(*spec, "record_type must be A or AAAA");
      }
      break;
    default:
      return Invalid(*spec, "type must be http, tcp or dns");
  }
  if (spec->kind() != fleetdesk::v1::CHECK_KIND_HTTP &&
      (!spec->method().empty() || spec->expect_status_size() > 0 ||
       !spec->body_contains().empty() || !spec->body_regex().empty() || spec->headers_size() > 0 ||
       !spec->ca_file().empty())) {
    return Invalid(*spec, "HTTP settings given for a " + KindName(spec->kind()) + " check");
  }
  return {};
}

}  // namespace fleetdesk::checks
