// What the benchmark programs share: failing loudly, timing, percentiles, URL-encoding.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "common/files.hpp"
#include "common/net/https_client.hpp"
#include "common/result.hpp"

namespace fleetdesk::bench {

using Clock = std::chrono::steady_clock;

// The program's name for its error messages; each main sets it.
inline std::string program = "fleetdesk-bench";

[[noreturn]] inline void Die(const std::string& what) {
  std::cerr << program << ": " << what << "\n";
  std::exit(1);
}

template <typename T>
T Must(Result<T> result, const std::string& what) {
  if (!result) Die(what + ": " + result.error().message);
  return std::move(*result);
}

inline void Must(const Status& status, const std::string& what) {
  if (!status) Die(what + ": " + status.error().message);
}

// The nearest-rank percentile `p` (0..1) of `v`.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

inline std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A query parameter's value, percent-encoded.
inline std::string Encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// GETs over HTTPS with an API token, as a script would: each answers its time in milliseconds.
class ApiClient {
 public:
  ApiClient(std::string api, const std::string& ca_file, std::string token, bool each)
      : api_(std::move(api)),
        ca_(Must(files::Read(ca_file), "reading " + ca_file)),
        token_(std::move(token)),
        each_(each) {}

  // Dies unless the answer is 200; `body` gets it.
  double Get(const std::string& target, std::string* body = nullptr) const {
    net::HttpsRequest request;
    request.url = api_ + target;
    request.tls.ca_pem = ca_;
    request.headers["Authorization"] = "Bearer " + token_;
    auto started = Clock::now();
    auto response = Must(net::Fetch(request), target);
    const double ms = Seconds(started) * 1000;
    if (each_) std::fprintf(stderr, "%8.1f ms  %s\n", ms, target.c_str());
    if (response.status != 200) {
      Die(target + ": " + std::to_string(response.status) + " " + response.body);
    }
    if (body != nullptr) *body = std::move(response.body);
    return ms;
  }

 private:
  std::string api_;
  std::string ca_;
  std::string token_;
  bool each_;
};

}  // namespace fleetdesk::bench
