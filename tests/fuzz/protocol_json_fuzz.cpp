// The agent protocol's JSON codec, as the gateway runs it on every message an agent sends: any
// input is refused or parsed, never crashes; whatever parses prints and parses back the same.
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/codec.hpp"
#include "fleetdesk/v1/agent.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const fleetdesk::codec::Limits limits{1U << 20U, 32};
  fleetdesk::v1::AgentMessage message;
  if (!fleetdesk::codec::FromJson(text, &message, limits)) return 0;
  // What we print we must read back as it was (a NaN counting as equal to a NaN).
  const auto printed = fleetdesk::codec::ToJson(message);
  fleetdesk::v1::AgentMessage again;
  google::protobuf::util::DefaultFieldComparator comparator;
  comparator.set_treat_nan_as_equal(true);
  google::protobuf::util::MessageDifferencer differ;
  differ.set_field_comparator(&comparator);
  if (!fleetdesk::codec::FromJson(printed, &again, {printed.size() + 1, 64}) ||
      !differ.Compare(message, again)) {
    std::abort();
  }
  // The binary form of the same message too.
  fleetdesk::v1::AgentMessage binary;
  if (!fleetdesk::codec::FromBinary(message.SerializeAsString(), &binary, limits)) std::abort();
  return 0;
}
