// Runs link checks (HTTP/HTTPS, TCP connect, DNS resolution) on the agent's io_context, each on
// its own interval, and hands every result to a callback with whether the check went up or down.
// No Asio types in this header.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "fleetdesk/v1/agent.pb.h"

namespace boost::asio {
class io_context;
}

namespace fleetdesk::agent::checks {

// Runs `spec` once; `done` gets the result on the io_context's thread. The spec must be
// normalized (see spec.hpp).
void RunOnce(boost::asio::io_context& io, const fleetdesk::v1::CheckSpec& spec,
             std::function<void(fleetdesk::v1::CheckResult)> done);

class CheckRunner {
 public:
  // `on_result(result, changed)`: changed is true when the check's up/down differs from its
  // previous result (or it is the first).
  using Callback = std::function<void(const fleetdesk::v1::CheckResult&, bool changed)>;
  CheckRunner(boost::asio::io_context& io, Callback on_result);
  ~CheckRunner();
  CheckRunner(const CheckRunner&) = delete;
  CheckRunner& operator=(const CheckRunner&) = delete;

  // Replaces the running set: checks not in `specs` stop, new ones start within their interval
  // (spread, so ten checks do not all fire at once), changed ones restart.
  void Set(std::vector<fleetdesk::v1::CheckSpec> specs);
  void Stop();
  // The latest result of every check that has run.
  std::vector<fleetdesk::v1::CheckResult> Latest() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::agent::checks
