// The looking of `scoregate doctor`: DNS, TLS handshakes and one HTTP/1.1 request, with
// blocking sockets and OpenSSL directly (a CLI may block; exceptions are fine outside the data
// plane). What is seen goes to evaluate.hpp for the verdicts.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "doctor/evaluate.hpp"

namespace scoregate::doctor {

struct Resolved {
  std::vector<std::string> addresses;  // numeric, unique, in resolver order
  std::string error;                   // gai_strerror() when nothing resolved
};
Resolved resolve(const std::string& host);

// One TLS handshake offering only `version` ("1.0" ... "1.3"); no certificate checks.
VersionProbe probe_version(const std::string& host, const std::string& port,
                           const std::string& version);

struct Handshake {
  std::string error;  // set when no handshake completed (connect or TLS failure)
  std::string version, alpn;
  ServedChain chain;
  bool name_covered = false;
  std::string covered_names;  // what the leaf covers, for the message
  std::time_t not_before = 0, not_after = 0;
  std::string fingerprint;  // SHA-256 of the served leaf
};
// A handshake as a client would do it (TLS 1.2+, ALPN h2 and http/1.1, SNI); the chain is
// verified against `cacert` when given, else the system store.
Handshake handshake(const std::string& host, const std::string& port, const std::string& cacert);

// POST `path` with body "{}" over HTTP/1.1 (ALPN http/1.1), with `Authorization: Bearer KEY`
// when a key is given. The answer's status and first bytes of body.
HttpAnswer post(const std::string& host, const std::string& port, const std::string& path,
                const std::optional<std::string>& key);

}  // namespace scoregate::doctor
