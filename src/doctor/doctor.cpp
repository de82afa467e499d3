#include "doctor/doctor.hpp"

#include <ctime>

#include "core/secure.hpp"
#include "doctor/probe.hpp"
#include "tls/certificate.hpp"
#include "tls/openssl_util.hpp"
#include "tls/parse.hpp"
#include "tls/secret.hpp"

namespace scoregate::doctor {

namespace {

void fail_url(Problems& problems, const std::string& text, const std::string& what) {
  problems.error("DOCTOR_URL_INVALID", "URL", "'" + text + "': " + what,
                 "give the endpoint's base URL, e.g. https://scoring.example.com or "
                 "https://scoring.example.com:8443");
}

// "/api/v1/endpoint/NAME/..." or "/api/v1/service/NAME/...": NAME.
std::string endpoint_in_path(const std::string& path) {
  for (const std::string prefix : {"/api/v1/endpoint/", "/api/v1/service/"}) {
    if (path.rfind(prefix, 0) != 0) continue;
    const auto rest = path.substr(prefix.size());
    return rest.substr(0, rest.find('/'));
  }
  return {};
}

}  // namespace

std::string Url::shown() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + host + "]" : host) + ":" + port;
}

std::optional<Url> parse_url(const std::string& text, Problems& problems) {
  const std::string scheme = "https://";
  if (text.rfind(scheme, 0) != 0) {
    fail_url(problems, text, "not an https:// URL (doctor checks TLS endpoints)");
    return std::nullopt;
  }
  Url url;
  auto rest = text.substr(scheme.size());
  const auto slash = rest.find_first_of("/?#");
  const std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  rest = rest.substr(0, slash);
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos) return fail_url(problems, text, "unclosed '['"), std::nullopt;
    url.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':')
      port = rest.substr(close + 2);
    else if (close + 1 != rest.size())
      return fail_url(problems, text, "junk after ']'"), std::nullopt;
  } else {
    const auto colon = rest.find(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (url.host.empty() || url.host.find('@') != std::string::npos)
    return fail_url(problems, text, "no host name"), std::nullopt;
  if (!port.empty()) {
    const bool digits =
        port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoul(port) == 0 || std::stoul(port) > 65535)
      return fail_url(problems, text, "the port is not a number from 1 to 65535"), std::nullopt;
    url.port = port;
  }
  url.endpoint = endpoint_in_path(path);
  return url;
}

Configured configured_certificate(const settings::Config& config) {
  Configured out;
  const auto& ext = config.extension;
  out.source = !ext.ssl_secret.empty()
                   ? "sslSecret " + tls::shown_secret_field(ext.ssl_secret, true)
                   : std::string("sslCertPemFile");
  if (ext.ssl_secret.empty() && ext.ssl_cert_pem_file.empty()) {
    out.unreadable = "the settings name no certificate (no sslCertPemFile or sslSecret)";
    return out;
  }
  Problems problems;
  const auto material = tls::resolve_source(config, problems);
  std::vector<tls::X509Ptr> certs;
  if (material)
    certs = tls::parse_certificates(material->cert_bytes, material->cert_label, problems);
  if (certs.empty()) {
    // The codes say what is missing (e.g. SECRET_NOT_FOUND: the Secret lives in the cluster);
    // they never hold a protected value (docs/certificate-codes.md).
    std::string codes;
    for (const auto& p : problems.items())
      if (p.severity == Severity::error) codes += (codes.empty() ? "" : ", ") + p.code;
    out.unreadable =
        ext.ssl_secret.empty() ? codes : "the Secret is in the cluster, not here (" + codes + ")";
    return out;
  }
  out.fingerprint = sha256_fingerprint(tls::der_of(certs.front().get()));
  return out;
}

std::string only_endpoint(const settings::Config& config) {
  return config.endpoints.size() == 1 ? config.endpoints.front().name : std::string();
}

Expected expected_from(const ServiceAddress& service) {
  Expected out{service.ips, service.source};
  for (const auto& h : service.hostnames)
    for (const auto& a : resolve(h).addresses) out.addresses.push_back(a);
  return out;
}

}  // namespace scoregate::doctor
