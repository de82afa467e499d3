// The rules between settings (README "Configuration"; docs/settings-codes.md): certificate source,
// insecure mode, service type and router limits. Endpoints are in validate_endpoints.cpp.
#include <algorithm>

#include "settings/internal.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings {
namespace detail {

namespace {

// Where a setting that is missing belongs: "scoregate.yaml: extension.sslCname".
std::string missing_where(const Config& c, const std::string& key) {
  const std::string section = is_protected_only(key) ? "protected." : "extension.";
  return c.source.empty() ? key : c.source + ": " + section + key;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  return out;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

void tls_source(const Config& c, Problems& p) {
  const auto& e = c.extension;
  const bool secret = !e.ssl_secret.empty();
  const bool cert = !e.ssl_cert_pem_file.empty(), key = !e.ssl_key_pem_file.empty();
  if (secret && (cert || key)) {
    std::vector<std::string> pems;
    if (cert) pems.push_back("sslCertPemFile");
    if (key) pems.push_back("sslKeyPemFile");
    p.error("TLS_SOURCE_CONFLICT", c.where_of("sslSecret"),
            "sslSecret and " + join(pems) +
                " are both set: they are two ways to give the "
                "certificate and only one may be used",
            "keep one: remove sslSecret, or remove sslCertPemFile and sslKeyPemFile");
  } else if (cert != key) {
    const std::string given = cert ? "sslCertPemFile" : "sslKeyPemFile";
    const std::string missing = cert ? "sslKeyPemFile" : "sslCertPemFile";
    const std::string what = cert ? "PEM private key" : "PEM certificate chain";
    p.error("TLS_PEM_PAIR_INCOMPLETE", c.where_of(given),
            given + " is set but " + missing + " is not: the certificate and its key go together",
            "also set " + missing + " to the " + what + " file (--config-protected " + missing +
                "=PATH, or under protected:), or remove " + given + " and use sslSecret");
  } else if (!secret && !cert) {
    p.error("TLS_NO_SOURCE",
            c.is_set("allowInsecureConnections") ? c.where_of("allowInsecureConnections")
                                                 : missing_where(c, "sslSecret"),
            "TLS is on (allowInsecureConnections is False) but no certificate is configured",
            "set sslSecret to a Kubernetes Secret holding cert.pem and key.pem (--config "
            "sslSecret=NAME), or both sslCertPemFile and sslKeyPemFile (--config-protected "
            "sslCertPemFile=PATH --config-protected sslKeyPemFile=PATH); for plain HTTP in "
            "development only, set allowInsecureConnections=True");
  }
}

// sslCname may list several names ("a.example.com, b.example.com"). Every entry must be a host
// name (an empty one, as in "a,,b" or "a,", is a mistake too); the value is then stored as
// cname_list() gives it, joined with ',' and no spaces, so later readers see a plain list.
void tls_names(Config& c, Problems& p) {
  auto& e = c.extension;
  if (e.ssl_cname.empty()) {
    p.error("TLS_CNAME_MISSING", missing_where(c, "sslCname"),
            "TLS is on but sslCname is not set: the name clients use, which the certificate "
            "must cover",
            "set sslCname to the FQDN clients use, e.g. --config sslCname=scoring.example.com");
  } else {
    const auto entries = cname_entries(e.ssl_cname);
    const bool ok = std::all_of(entries.begin(), entries.end(),
                                [](std::string_view name) { return is_hostname(name, true); });
    if (ok)
      e.ssl_cname = join_names(cname_list(e.ssl_cname));
    else
      p.error("SETTING_INVALID_VALUE", c.where_of("sslCname"),
              "sslCname " + display_value(c, "sslCname", e.ssl_cname) +
                  " is not a host name (or a comma-separated list of them)",
              "give the bare FQDN clients use, without scheme, port or path, e.g. "
              "--config sslCname=scoring.example.com");
  }
  if (!e.ssl_secret.empty() && !is_k8s_name(e.ssl_secret))
    p.error("SETTING_INVALID_VALUE", c.where_of("sslSecret"),
            "sslSecret " + display_value(c, "sslSecret", e.ssl_secret) +
                " is not a Kubernetes Secret name",
            "use the Secret's metadata.name: lowercase letters, digits, '-' and '.', starting "
            "and ending with a letter or digit, e.g. --config sslSecret=scoring-tls");
}

void insecure(const Config& c, Problems& p) {
  const auto& e = c.extension;
  const std::string at = c.where_of("allowInsecureConnections");
  p.warning("INSECURE_CONNECTIONS", at,
            "allowInsecureConnections is True: plain HTTP, TLS termination is off, requests, "
            "answers and endpoint keys travel unencrypted",
            "use this for development or testing only; for production set "
            "allowInsecureConnections=False with sslSecret or sslCertPemFile/sslKeyPemFile and "
            "sslCname");
  std::vector<std::string> left;
  if (!e.ssl_secret.empty()) left.push_back("sslSecret");
  if (!e.ssl_cname.empty()) left.push_back("sslCname");
  if (!e.ssl_cert_pem_file.empty()) left.push_back("sslCertPemFile");
  if (!e.ssl_key_pem_file.empty()) left.push_back("sslKeyPemFile");
  if (!c.router.session_ticket_key_file.empty()) left.push_back("router.session_ticket_key_file");
  if (left.empty()) return;
  p.warning("INSECURE_TLS_SETTINGS_IGNORED", at,
            join(left) + (left.size() == 1 ? " is" : " are") +
                " set but ignored because allowInsecureConnections is True",
            "remove " + join(left) +
                " (the extension's \"Disable TLS\" steps remove sslCname "
                "and the sslSecret or sslPem settings), or set allowInsecureConnections=False to "
                "use TLS");
}

void service_type(Config& c, Purpose purpose, Problems& p) {
  auto& type = c.extension.inference_router_service_type;
  if (type.empty()) {
    if (purpose == Purpose::render)
      p.error("SERVICE_TYPE_MISSING", missing_where(c, "inferenceRouterServiceType"),
              "inferenceRouterServiceType is not set; k8s render needs it to write the Service "
              "(the extension requires it with enableInference=True)",
              "set it, e.g. --config inferenceRouterServiceType=LoadBalancer (NodePort or "
              "ClusterIP when you bring your own load balancer and TLS termination)");
    return;
  }
  if (auto canonical = canonical_service_type(type)) {
    type = *canonical;
    return;
  }
  p.error("SERVICE_TYPE_INVALID", c.where_of("inferenceRouterServiceType"),
          "inferenceRouterServiceType " + display_value(c, "inferenceRouterServiceType", type) +
              " is not a service type",
          std::string("use one of ") + kServiceTypes +
              " (any case), e.g. --config inferenceRouterServiceType=LoadBalancer");
}

void listen_address(const Config& c, Problems& p, const std::string& key, const std::string& value,
                    const char* example) {
  if (key == "router.listen" && value.empty()) return;  // the mode's default
  auto why = value.empty() ? std::optional<std::string>("it is empty") : host_port_error(value);
  if (!why) return;
  p.error("LISTEN_INVALID", c.where_of(key),
          key + " " + display_value(c, key, value) + " is not HOST:PORT: " + *why,
          std::string("write HOST:PORT, e.g. ") + example +
              ", [::]:8443 or localhost:8443 (port 0 to 65535)");
}

void number_range(const Config& c, Problems& p, const std::string& key, std::uint64_t value,
                  std::uint64_t lo, std::uint64_t hi) {
  if (value >= lo && value <= hi) return;
  const bool unbounded = hi == UINT64_MAX || hi == UINT32_MAX;
  const std::string range = unbounded ? "at least " + std::to_string(lo)
                                      : "from " + std::to_string(lo) + " to " + std::to_string(hi);
  p.error("SETTING_INVALID_VALUE", c.where_of(key),
          key + " is " + std::to_string(value) + " but must be " + range,
          "set " + key + " to a whole number " + range);
}

// enableInference=False means "no inference router" in the extension: nothing for render to
// write, and a contradiction for serve, which is the inference router.
void inference(const Config& c, Purpose purpose, Problems& p) {
  if (c.extension.enable_inference) return;
  if (purpose == Purpose::render)
    p.error("INFERENCE_DISABLED", c.where_of("enableInference"),
            "enableInference is False: the extension then deploys no inference router, so there "
            "is nothing for k8s render to write",
            "set enableInference=True (or remove it) to render the router");
  else
    p.warning("ENABLE_INFERENCE_IGNORED", c.where_of("enableInference"),
              "enableInference is False, but scoregate serve is the inference router: it serves "
              "anyway",
              "remove enableInference (serve implies True), or do not run the router");
}

}  // namespace

bool tls_source_unread(const Config& c) {
  return c.unread("sslSecret") || c.unread("sslCertPemFile") || c.unread("sslKeyPemFile");
}

void validate_extension(Config& c, Purpose purpose, Problems& p) {
  // A setting load() could not take is already reported; its rules would only repeat it as
  // "missing" (e.g. allowInsecureConnections: yes -> "no certificate is configured").
  if (c.unread("allowInsecureConnections")) {
    // TLS on or off is unknown: no TLS rule applies
  } else if (c.extension.allow_insecure_connections) {
    insecure(c, p);
  } else if (purpose != Purpose::show) {
    if (!tls_source_unread(c)) tls_source(c, p);
    if (!c.unread("sslCname")) tls_names(c, p);
  }
  if (!c.unread("inferenceRouterServiceType")) service_type(c, purpose, p);
  if (!c.unread("enableInference")) inference(c, purpose, p);
}

void validate_router(const Config& c, Problems& p) {
  const auto& r = c.router;
  listen_address(c, p, "router.listen", r.listen, "0.0.0.0:8443");
  listen_address(c, p, "router.admin", r.admin, "127.0.0.1:9901");
  // Port 0 asks the kernel for a free port, so two ":0" addresses never collide.
  const bool any_port = r.listen.size() > 2 && r.listen.compare(r.listen.size() - 2, 2, ":0") == 0;
  if (!r.listen.empty() && r.listen == r.admin && !any_port)
    p.error("LISTEN_INVALID", c.where_of("router.admin"),
            "router.admin and router.listen are the same address " + r.admin,
            "give the admin listener its own port, e.g. --admin 127.0.0.1:9901");
  if (!r.probe_listen.empty()) {
    listen_address(c, p, "router.probe_listen", r.probe_listen, "0.0.0.0:9902");
    const bool probe_any_port = r.probe_listen.size() > 2 &&
                                r.probe_listen.compare(r.probe_listen.size() - 2, 2, ":0") == 0;
    if (!probe_any_port && (r.probe_listen == r.admin || r.probe_listen == r.listen))
      p.error("LISTEN_INVALID", c.where_of("router.probe_listen"),
              "router.probe_listen " + r.probe_listen + " is also router." +
                  (r.probe_listen == r.admin ? "admin" : "listen"),
              "give the probe listener its own port, e.g. probe_listen: 0.0.0.0:9902");
  }
  if (r.min_tls_version != "1.2" && r.min_tls_version != "1.3")
    p.error(
        "SETTING_INVALID_VALUE", c.where_of("router.min_tls_version"),
        "router.min_tls_version " + quoted(r.min_tls_version) + " is not a supported TLS version",
        "write min_tls_version: \"1.2\" (the default) or \"1.3\"");
  number_range(c, p, "router.workers", r.workers, 0, 1024);
  number_range(c, p, "router.shutdown_delay_ms", r.shutdown_delay_ms, 0, 600000);
  number_range(c, p, "router.readiness_wait_ms", r.readiness_wait_ms, 0, 600000);
  number_range(c, p, "router.max_header_bytes", r.max_header_bytes, 1024, 1048576);
  number_range(c, p, "router.max_body_bytes", r.max_body_bytes, 1, UINT64_MAX);
  number_range(c, p, "router.max_connections", r.max_connections, 0, UINT32_MAX);
  number_range(c, p, "router.http2_max_concurrent_streams", r.http2_max_concurrent_streams, 1,
               1000);
  const std::pair<const char*, std::uint32_t> timeouts[] = {
      {"router.handshake_timeout_ms", r.handshake_timeout_ms},
      {"router.min_body_rate_grace_ms", r.min_body_rate_grace_ms},
      {"router.header_timeout_ms", r.header_timeout_ms},
      {"router.keepalive_timeout_ms", r.keepalive_timeout_ms},
      {"router.body_idle_timeout_ms", r.body_idle_timeout_ms},
      {"router.drain_timeout_ms", r.drain_timeout_ms},
      {"router.dns_refresh_ms", r.dns_refresh_ms}};
  for (const auto& [key, value] : timeouts) number_range(c, p, key, value, 1, UINT32_MAX);
}

std::string where_in(const Config& c, const std::string& path, const std::string& file_line) {
  auto it = c.origins.find(path);
  if (it != c.origins.end()) return it->second;
  return file_line.empty() ? path : file_line + ": " + path;
}

}  // namespace detail

ValidationResult validate(Config config, Purpose purpose) {
  Problems problems;
  detail::validate_extension(config, purpose, problems);
  detail::validate_router(config, problems);
  if (!config.unread("endpoints")) detail::validate_endpoints(config, purpose, problems);
  ValidationResult result;
  if (!problems.has_errors()) result.settings = ValidatedSettings(std::move(config));
  result.problems = std::move(problems);
  return result;
}

bool settings_unread(const Problems& load_problems) {
  return load_problems.has("CONFIG_FILE_UNREADABLE") || load_problems.has("CONFIG_YAML_SYNTAX") ||
         load_problems.has("CONFIG_TOO_LARGE");
}

CertificateInputs certificate_inputs(const Config& c, const Problems& problems) {
  CertificateInputs in;
  in.source = !c.extension.allow_insecure_connections && !c.unread("allowInsecureConnections") &&
              !detail::tls_source_unread(c) && !problems.has("TLS_NO_SOURCE") &&
              !problems.has("TLS_SOURCE_CONFLICT") && !problems.has("TLS_PEM_PAIR_INCOMPLETE");
  for (const auto& key : {"sslSecret", "secrets_dir"})
    for (const auto& problem : problems.items())
      if (problem.severity == Severity::error && problem.where == c.where_of(key))
        in.source = false;
  in.names = !c.unread("sslCname");
  for (const auto& problem : problems.items())
    if (problem.severity == Severity::error && problem.where == c.where_of("sslCname"))
      in.names = false;
  return in;
}

}  // namespace scoregate::settings
