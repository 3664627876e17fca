#include "common/codec.hpp"

#include <catch2/catch.hpp>

#include "fleetdesk/v1/agent.pb.h"

using fleetdesk::codec::FromJson;
using fleetdesk::codec::Parse;
using fleetdesk::codec::ToJson;
using fleetdesk::v1::AgentMessage;

TEST_CASE("codec reads a report in protobuf's JSON mapping", "[common][codec]") {
  auto message = Parse<AgentMessage>(
      R"({"protocolVersion":1,"report":{"seq":"42","full":true,)"
      R"("heartbeat":{"hostname":"web-1","load1":0.5,"uptimeSeconds":"3600"}}})");
  REQUIRE(message.ok());
  REQUIRE(message->has_report());
  CHECK(message->report().seq() == 42);
  CHECK(message->report().full());
  CHECK(message->report().heartbeat().hostname() == "web-1");
  CHECK(message->report().heartbeat().uptime_seconds() == 3600);
}

TEST_CASE("codec ignores fields it does not know, so newer agents interoperate",
          "[common][codec]") {
  auto message = Parse<AgentMessage>(R"({"report":{"seq":"1","aFieldFromTheFuture":{"x":1}}})");
  REQUIRE(message.ok());
  CHECK(message->report().seq() == 1);
}

TEST_CASE("codec names the field that has the wrong type", "[common][codec]") {
  auto message = Parse<AgentMessage>(R"({"report":{"seq":"not a number"}})");
  REQUIRE_FALSE(message.ok());
  CHECK(message.error().code == fleetdesk::ErrorCode::kInvalidArgument);
  CHECK_THAT(message.error().message, Catch::Contains("seq"));
}

TEST_CASE("codec refuses text that is not JSON", "[common][codec]") {
  auto message = Parse<AgentMessage>("{not json");
  REQUIRE_FALSE(message.ok());
  CHECK_THAT(message.error().message, Catch::Contains("AgentMessage"));
}

TEST_CASE("codec refuses JSON nested deeper than the limit", "[common][codec]") {
  std::string deep = std::string(40, '[') + std::string(40, ']');
  auto status = fleetdesk::codec::CheckShape(deep, {});
  REQUIRE_FALSE(status.ok());
  CHECK_THAT(status.error().message, Catch::Contains("deeper than 32"));
  // Brackets inside strings are text, not nesting.
  std::string quoted = R"({"a":")" + std::string(100, '[') + R"("})";
  CHECK(fleetdesk::codec::CheckShape(quoted, {}).ok());
}

TEST_CASE("codec refuses a message larger than the limit", "[common][codec]") {
  AgentMessage message;
  std::string big = R"({"report":{"seq":"1"}})" + std::string(2000, ' ');
  auto status = FromJson(big, &message, {1000, 32});
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == fleetdesk::ErrorCode::kResourceExhausted);
  CHECK_THAT(status.error().message, Catch::Contains("limit of 1000"));
}

TEST_CASE("codec writes lowerCamelCase names and 64-bit numbers as strings", "[common][codec]") {
  AgentMessage message;
  message.mutable_report()->set_seq(7);
  message.mutable_report()->mutable_heartbeat()->set_uptime_seconds(10);
  auto json = ToJson(message);
  CHECK(json == R"({"report":{"seq":"7","heartbeat":{"uptimeSeconds":"10"}}})");
}
