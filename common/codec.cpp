#include "common/codec.hpp"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

namespace fleetdesk::codec {

Status CheckShape(std::string_view json, const Limits& limits) {
  if (json.size() > limits.max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted, "message is " + std::to_string(json.size()) +
                                                        " bytes, more than the limit of " +
                                                        std::to_string(limits.max_bytes));
  }
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > limits.max_depth) {
          return MakeError(
              ErrorCode::kInvalidArgument,
              "JSON nests deeper than " + std::to_string(limits.max_depth) + " levels");
        }
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
  return {};
}

Status FromJson(std::string_view json, google::protobuf::Message* out, const Limits& limits) {
  if (auto status = CheckShape(json, limits); !status) return status;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = !limits.refuse_unknown_fields;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), out, options);
  if (!status.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid " + out->GetDescriptor()->name() +
                                                      " JSON: " + std::string(status.message()));
  }
  return {};
}

Status FromBinary(std::string_view bytes, google::protobuf::Message* out, const Limits& limits) {
  if (bytes.size() > limits.max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted, "message is " + std::to_string(bytes.size()) +
                                                        " bytes, more than the limit of " +
                                                        std::to_string(limits.max_bytes));
  }
  if (!out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid " + out->GetDescriptor()->name() + " protobuf message");
  }
  return {};
}

namespace {

std::string Print(const google::protobuf::Message& message, bool pretty, bool defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = defaults;
  std::string out;
  // Printing a well-formed message cannot fail; a failure here is a programming error.
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) out = "{}";
  return out;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) {
  return Print(message, false, false);
}

std::string ToApiJson(const google::protobuf::Message& message) {
  return Print(message, false, true);
}

std::string ToPrettyJson(const google::protobuf::Message& message) {
  return Print(message, true, true);
}

std::string Utf8Text(std::string_view bytes, std::size_t most) {
  std::string out;
  out.reserve(std::min(bytes.size(), most));
  for (std::size_t i = 0; i < bytes.size();) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    std::size_t length = b0 < 0x80                 ? 1
                         : b0 >= 0xF0 && b0 < 0xF5 ? 4
                         : b0 >= 0xE0              ? 3
                         : b0 >= 0xC2              ? 2
                                                   : 0;
    bool valid = length > 0 && i + length <= bytes.size() && b0 != 0;
    for (std::size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    }
    const std::string_view piece = valid ? bytes.substr(i, length) : "\xEF\xBF\xBD";
    if (out.size() + piece.size() > most) break;
    out.append(piece);
    i += valid ? length : 1;
  }
  return out;
}

}  // namespace fleetdesk::codec
