// An agent identity enrolled through the real API, for tests that drive the channel by hand.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "agent/identity.hpp"
#include "tests/support/fleet.hpp"

namespace fleetdesk::testing {

inline fleetdesk::agent::Identity EnrollRaw(TestServer& server, const TempDir& dir,
                                            const std::string& machine) {
  auto token = server.Cli({"enroll-token", "create", "--ttl", "1h"});
  auto id = fleetdesk::agent::Enroll(
      {server.ApiUrl(), token, server.fingerprint(), dir / machine, "raw-" + machine, machine});
  REQUIRE(id.ok());
  return *id;
}

}  // namespace fleetdesk::testing
