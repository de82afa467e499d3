// `scoregate doctor https://HOST[:PORT]`: checks a deployed endpoint from the outside — DNS,
// TLS, the scoring URI — and reports one verdict per check (README "Check a deployed endpoint:
// scoregate doctor"). cli/doctor.cpp reads the flags and files; run() does the checks.
#pragma once

#include <optional>
#include <string>

#include "core/problem.hpp"
#include "doctor/evaluate.hpp"
#include "doctor/report.hpp"
#include "doctor/service_manifest.hpp"
#include "settings/config.hpp"

namespace scoregate::doctor {

struct Url {
  std::string host;  // without brackets for IPv6
  std::string port = "443";
  std::string endpoint;       // from a pasted scoring URI's path (/api/v1/endpoint/NAME/...), or ""
  std::string shown() const;  // "https://HOST:PORT"
};
// https://HOST[:PORT][/path]; nullopt (with DOCTOR_URL_INVALID) when it is not one.
std::optional<Url> parse_url(const std::string& text, Problems& problems);

// The certificate a settings file configures, as far as it can be read here.
Configured configured_certificate(const settings::Config& config);
// The endpoint of a settings file when it has exactly one, else "".
std::string only_endpoint(const settings::Config& config);

struct Options {
  Url url;
  std::string cacert;              // "" = the system store
  std::optional<std::string> key;  // never printed
  std::string key_from;            // where the key came from, when not a flag ("" = a flag)
  std::string endpoint;            // "" = the scoring URI is not checked
  std::optional<Expected> expected;
  std::string expected_caution;  // the Service's address is not an external one (why)
  std::optional<Configured> configured;
};

// Runs every check in order: DNS, TLS, HTTP. A check that cannot run because an earlier one
// failed (no address, no handshake) is left out: the failure above says why.
Report run(const Options& options);

// The addresses a --service-manifest expects: its IPs and what its hostnames resolve to.
Expected expected_from(const ServiceAddress& service);

}  // namespace scoregate::doctor
