// Result<T>: a value or a named error, the core's way of failing without exceptions.
// Modelled on LevelDB's Status: callers test ok(), then read value() or error().
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace fleetdesk {

// Error codes name the kind of failure; the REST layer maps them to HTTP statuses in one place.
enum class ErrorCode {
  kInvalidArgument,   // the input was malformed or out of range
  kNotFound,          // the thing named does not exist
  kAlreadyExists,     // a unique thing would be made twice
  kUnauthenticated,   // no valid credential was given
  kPermissionDenied,  // the credential does not allow this
  kFailedPrecondition,
  kResourceExhausted,  // a size or count limit was reached
  kRateLimited,        // too many attempts or requests: try again later
  kMethodNotAllowed,   // the resource exists but not with this method
  kUnavailable,        // a dependency (database, peer) cannot be reached now
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  int retry_after_seconds = 0;  // kRateLimited: when trying again may succeed
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error)
      : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace fleetdesk
