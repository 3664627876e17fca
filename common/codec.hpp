// The protocol's JSON codec: protobuf's canonical JSON mapping, with the limits every input from
// the network must pass before protobuf sees it. All JSON in and out of fleetdesk goes through
// here.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace google::protobuf {
class Message;
}

namespace fleetdesk::codec {

struct Limits {
  // A full report with a large package list is ~1-2 MiB; nothing legitimate is bigger.
  std::size_t max_bytes = 4U << 20U;
  // Our deepest message nests 5 levels; 32 leaves room for later fields and refuses bombs.
  int max_depth = 32;
  // The channel ignores unknown fields, so a newer agent can talk to an older server; the REST
  // API refuses them, so a misspelt field is an error rather than a silent no-op.
  bool refuse_unknown_fields = false;
};

// Checks size and nesting without building anything; O(n) over the bytes.
Status CheckShape(std::string_view json, const Limits& limits);

// Parses JSON into `out` after CheckShape passes, ignoring unknown fields unless told not to.
// On error `out` may hold a partial message; the error message names what was wrong.
Status FromJson(std::string_view json, google::protobuf::Message* out, const Limits& limits = {});

template <typename M>
Result<M> Parse(std::string_view json, const Limits& limits = {}) {
  M message;
  if (auto status = FromJson(json, &message, limits); !status) return status.error();
  return message;
}

// Parses the binary protobuf form (the channel's negotiated "protobuf" encoding) within the size
// limit; protobuf's own recursion limit bounds nesting.
Status FromBinary(std::string_view bytes, google::protobuf::Message* out,
                  const Limits& limits = {});

// Compact JSON, lowerCamelCase names, default values omitted.
std::string ToJson(const google::protobuf::Message& message);

// Text for a protobuf string field or a database's text column: valid UTF-8 without NUL (each
// invalid byte becomes U+FFFD), at most `most` bytes, cut at a character's start.
std::string Utf8Text(std::string_view bytes, std::size_t most = std::string_view::npos);

// Compact JSON with every field, default values included: the REST API's form.
std::string ToApiJson(const google::protobuf::Message& message);

// Same, with default values printed and indented: for people (`fleetdesk-agent collect`).
std::string ToPrettyJson(const google::protobuf::Message& message);

}  // namespace fleetdesk::codec
