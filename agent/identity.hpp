// The agent's identity in its state directory, written by `enroll` and read by `run`:
//   key.pem (0600)         the private key, made on this host; it never leaves it
//   cert.pem (0600)        the certificate the server's CA signed; its subject is the agent id
//   ca.pem                 the server's CA, pinned by fingerprint at enrollment
//   enrollment.json (0600) agent id and gateway URLs
//   key.pem.new (0600)     during a certificate renewal only: the key the new certificate is for
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/crypto.hpp"
#include "common/result.hpp"

namespace fleetdesk::agent {

struct Identity {
  std::string agent_id;
  std::string key_pem;
  std::string certificate_pem;
  std::string ca_pem;
  std::vector<std::string> gateway_urls;
};

// Finishes or discards a renewal a crash interrupted (see CompleteRenewal) before reading.
Result<Identity> LoadIdentity(const std::string& state_dir);

// Certificate renewal over the channel, in two steps that a crash at any point leaves usable:
// PrepareRenewal makes a new key, keeps it as key.pem.new and answers a CSR for it (the old key
// and certificate stay in use); CompleteRenewal checks the certificate the server sent back
// (signed by the pinned CA, for the new key, naming this agent), writes it over cert.pem and
// then moves key.pem.new over key.pem. Between those two renames cert.pem already matches
// key.pem.new, which is how LoadIdentity knows to finish the move.
Result<std::string> PrepareRenewal(const std::string& state_dir, const Identity& identity);
Result<Identity> CompleteRenewal(const std::string& state_dir, const Identity& identity,
                                 const std::string& certificate_pem);

// When to ask for a new certificate: `fraction` of the way from notBefore to notAfter. The
// channel draws the fraction between 0.7 and 0.9 per agent, so a fleet enrolled in one day does
// not renew in one minute, and an agent offline for a while still renews before expiry.
std::chrono::system_clock::time_point RenewalTime(const crypto::CertificateInfo& certificate,
                                                  double fraction);

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
