// doctor::run(): the order of the checks and what each needs from the ones before it.
#include <ctime>

#include "doctor/doctor.hpp"
#include "doctor/probe.hpp"

namespace scoregate::doctor {

namespace {

// False when there is nothing to connect to (the failure is in the report).
bool dns_checks(const Options& o, Report& report) {
  const auto resolved = resolve(o.url.host);
  report.add(check_resolves(o.url.host, resolved.addresses, resolved.error));
  if (resolved.addresses.empty()) return false;
  if (!o.expected_caution.empty())
    report.add({"dns.service", Status::warn, o.expected_caution,
                "expose the router outside the cluster and save its Service again"});
  if (o.expected) report.add(check_expected_address(o.url.host, resolved.addresses, *o.expected));
  return true;
}

// False when no handshake completed (the failure is in the report).
bool tls_checks(const Options& o, Report& report, std::string& alpn) {
  const auto& host = o.url.host;
  const auto& port = o.url.port;
  const auto hs = handshake(host, port, o.cacert);
  if (!hs.error.empty()) {
    report.add({"tls.connect", Status::fail,
                "no TLS handshake with " + o.url.shown() + ": " + hs.error,
                "check the port, that the router runs (kubectl get pods -n azureml) and that "
                "nothing in front of it (a firewall, another proxy) stops TLS"});
    return false;
  }
  alpn = hs.alpn;
  for (const char* v : {"1.0", "1.1", "1.2", "1.3"})
    report.add(check_version(probe_version(host, port, v)));
  report.add(check_chain(hs.chain));
  report.add(check_name(host, hs.name_covered, hs.covered_names));
  report.add(check_expiry(hs.not_before, hs.not_after, std::time(nullptr)));
  report.add(check_fingerprint(hs.fingerprint, o.configured.value_or(Configured{})));
  return true;
}

void http_checks(const Options& o, Report& report, const std::string& alpn) {
  if (o.endpoint.empty()) {
    report.add({"http.endpoint", Status::warn, "no endpoint named: the scoring URI was not checked",
                "give --endpoint NAME, or -f with the settings (one endpoint), or the scoring URI "
                "itself as the URL"});
  } else {
    const std::string path = "/api/v1/service/" + o.endpoint + "/score";
    const std::string uri = o.url.shown() + path;
    report.add(check_without_key(uri, post(o.url.host, o.url.port, path, std::nullopt)));
    if (o.key)
      report.add(check_with_key(uri, post(o.url.host, o.url.port, path, o.key), o.key_from));
  }
  report.add(check_http2(alpn));
}

}  // namespace

Report run(const Options& o) {
  Report report;
  report.target = o.url.shown();
  std::string alpn;
  if (dns_checks(o, report) && tls_checks(o, report, alpn)) http_checks(o, report, alpn);
  return report;
}

}  // namespace scoregate::doctor
