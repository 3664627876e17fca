// The agent's identity in its state directory, written by `enroll` and read by `run`:
//   key.pem (0600)         the private key, made on this host; it never leaves it
//   cert.pem (0600)        the certificate the server's CA signed; its subject is the agent id
//   ca.pem                 the server's CA, pinned by fingerprint at enrollment
//   enrollment.json (0600) agent id and gateway URLs
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::agent {

struct Identity {
  std::string agent_id;
  std::string key_pem;
  std::string certificate_pem;
  std::string ca_pem;
  std::vector<std::string> gateway_urls;
};

Result<Identity> LoadIdentity(const std::string& state_dir);

struct EnrollOptions {
  std::string server_url;  // the API, e.g. https://fleetdesk.example:8443
  std::string token;
  std::string ca_fingerprint;  // "SHA256:<hex>" as `fleetdesk-server ca-fingerprint` prints it
  std::string state_dir;
  std::string hostname;
  std::string machine_id;
  std::string serial;  // DMI serial when readable: matches a host registered ahead by serial
};

// Fetches the server's CA, refuses it unless its fingerprint matches, then sends the CSR over a
// connection that verifies the server against that CA. Writes the state files on success only.
Result<Identity> Enroll(const EnrollOptions& options);

// "SHA256:AB:cd..." and "ab cd" forms compare equal to "SHA256:abcd...".
std::string NormalizeFingerprint(const std::string& text);

}  // namespace fleetdesk::agent
