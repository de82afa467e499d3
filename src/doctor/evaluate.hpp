// The verdicts of `scoregate doctor`: what was observed in, a Check (verdict, message, fix) out.
// Sans-IO, so every rule is unit tested (tests/unit/doctor); probe.cpp does the looking.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "doctor/report.hpp"

namespace scoregate::doctor {

// ---- DNS ----

// The addresses HOST should resolve to and where that expectation came from
// ("--expect-ip", "Service 'scoregate' status.loadBalancer.ingress").
struct Expected {
  std::vector<std::string> addresses;
  std::string source;
};

Check check_resolves(const std::string& host, const std::vector<std::string>& resolved,
                     const std::string& error);
// PASS when every resolved address is expected, WARN when only some are, FAIL when none is
// (with what to change and why old answers may linger: TTLs).
Check check_expected_address(const std::string& host, const std::vector<std::string>& resolved,
                             const Expected& expected);

// ---- TLS ----

struct VersionProbe {
  std::string version;  // "1.0", "1.1", "1.2", "1.3"
  bool accepted = false;
  std::string detail;  // why it was refused, or what was negotiated
};
// 1.2 and 1.3 should be accepted (WARN when not), 1.0 and 1.1 refused (FAIL when accepted).
Check check_version(const VersionProbe& probe);

struct ServedChain {
  bool verified = false;
  std::string verify_error;  // OpenSSL's reason when not verified
  std::string trust;         // "the system store" or "--cacert FILE"
};
Check check_chain(const ServedChain& chain);
Check check_name(const std::string& host, bool covered, const std::string& covered_names);
// WARN under 14 days left, FAIL when expired or not yet valid.
Check check_expiry(std::time_t not_before, std::time_t not_after, std::time_t now);

// The certificate the settings file points to, as far as it could be read here.
struct Configured {
  std::optional<std::string> fingerprint;  // SHA-256 of the configured leaf
  std::string source;                      // "sslCertPemFile", "sslSecret 'x'"
  std::string unreadable;                  // why it could not be read here ("" = read)
};
Check check_fingerprint(const std::string& served, const Configured& configured);

// ---- HTTP ----

struct HttpAnswer {
  unsigned status = 0;  // 0: no answer (error says why)
  std::string body;     // the first bytes of the body
  std::string error;
};

// The router's own error code when `body` is one of its JSON errors (README "Requests": the
// status table), nullopt for anything else, which is then the model's answer.
std::optional<std::string> router_error_code(const std::string& body);

// Without a key: 401 Unauthorized means key auth is on (PASS); a model answer means auth is off.
Check check_without_key(const std::string& uri, const HttpAnswer& answer);
// With a key: any answer from the model passes; a router error is named by its code.
// key_from: where the key came from when not --key / --key-file (said in the message).
Check check_with_key(const std::string& uri, const HttpAnswer& answer,
                     const std::string& key_from = {});
Check check_http2(const std::string& alpn);

}  // namespace scoregate::doctor
