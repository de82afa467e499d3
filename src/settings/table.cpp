// The settings table: every setting of extension:, protected:, router:, request_settings: and
// readiness_probe: is declared here once, with its type, reload behaviour, channel and meaning
// (README "Configuration" has the full rules). Everything else iterates these rows.
#include <algorithm>

#include "settings/internal.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings {
namespace detail {

namespace {

using E = ExtensionSettings;
using R = RouterSettings;
using Q = RequestSettings;
using P = ReadinessProbe;

}  // namespace

const std::vector<Field<ExtensionSettings>> kExtensionFields = {
    {"allowInsecureConnections", &E::allow_insecure_connections,
     "True: plain HTTP without TLS, for development only", OnReload::refuse},
    {"sslSecret", &E::ssl_secret, "Kubernetes Secret holding the certificate and key"},
    {"sslCname", &E::ssl_cname, "the host name(s) clients use, comma-separated"},
    {"inferenceRouterServiceType", &E::inference_router_service_type,
     "LoadBalancer, NodePort or ClusterIP: the Service k8s render writes", OnReload::apply,
     Channel::any, canonical_service_type},
    {"enableInference", &E::enable_inference, "False: no inference router (serve implies True)"},
    {"inferenceRouterHA", &E::inference_router_ha,
     "k8s render: 3 replicas with anti-affinity and a PodDisruptionBudget"},
    {"sslCertPemFile", &E::ssl_cert_pem_file, "PEM certificate chain file", OnReload::apply,
     Channel::protected_only},
    {"sslKeyPemFile", &E::ssl_key_pem_file, "PEM private key file", OnReload::apply,
     Channel::protected_only},
};

const std::vector<Field<RouterSettings>> kRouterFields = {
    {"listen", &R::listen, "scoring listener HOST:PORT", OnReload::restart},
    {"admin", &R::admin, "admin listener HOST:PORT", OnReload::restart},
    {"probe_listen", &R::probe_listen, "listener with /healthz, /readyz and /metrics only",
     OnReload::restart},
    {"workers", &R::workers, "worker threads; 0 = one per usable CPU", OnReload::restart},
    {"max_header_bytes", &R::max_header_bytes, "request head limit (431 above it)"},
    {"max_body_bytes", &R::max_body_bytes, "request body limit (413 above it)"},
    {"trusted_ca_file", &R::trusted_ca_file, "PEM roots of a private PKI"},
    {"secrets_dir", &R::secrets_dir, "where sslSecret is looked up outside Kubernetes"},
    {"state_dir", &R::state_dir, "development-mode material", OnReload::restart},
    {"min_tls_version", &R::min_tls_version, "\"1.2\" or \"1.3\""},
    {"session_ticket_key_file", &R::session_ticket_key_file,
     "session ticket keys shared by replicas"},
    {"max_connections", &R::max_connections,
     "client connections per process; 0 = from the open-files limit"},
    {"handshake_timeout_ms", &R::handshake_timeout_ms,
     "TCP accept to the end of the TLS handshake"},
    {"header_timeout_ms", &R::header_timeout_ms, "first byte to end of the request head"},
    {"keepalive_timeout_ms", &R::keepalive_timeout_ms, "idle client connection lifetime"},
    {"body_idle_timeout_ms", &R::body_idle_timeout_ms, "longest pause in a body, either way"},
    {"min_body_rate_bytes_per_s", &R::min_body_rate_bytes_per_s,
     "slowest average request body rate after the grace; 0 = none"},
    {"min_body_rate_grace_ms", &R::min_body_rate_grace_ms,
     "time a request body may take before min_body_rate_bytes_per_s applies"},
    {"drain_timeout_ms", &R::drain_timeout_ms, "SIGTERM: time given to requests in flight"},
    // Discovery keeps the interval it was made with (docs/ARCHITECTURE.md "Settings: from YAML
    // to a worker").
    {"dns_refresh_ms", &R::dns_refresh_ms, "re-resolution period of dns: targets",
     OnReload::restart},
    {"shutdown_delay_ms", &R::shutdown_delay_ms,
     "SIGTERM: serve this long with /readyz failing before draining"},
    // Only the start waits: once ready, a router stays ready (README "Readiness").
    {"readiness_wait_ms", &R::readiness_wait_ms,
     "start-up: longest wait of /readyz for ready targets", OnReload::restart},
    {"access_log", &R::access_log, "one JSON line per request on stdout"},
    // New client connections take the new values; open ones keep what they negotiated.
    {"http2", &R::http2, "HTTP/2 from clients: ALPN h2 (TLS), prior-knowledge h2c (insecure)"},
    {"http2_max_concurrent_streams", &R::http2_max_concurrent_streams,
     "HTTP/2 streams per client connection (1 to 1000)"},
};

const std::vector<Field<RequestSettings>> kRequestFields = {
    {"request_timeout_ms", &Q::request_timeout_ms, "time a model has to answer"},
    {"max_concurrent_requests_per_instance", &Q::max_concurrent_requests_per_instance,
     "requests in flight per target"},
    {"max_queue_wait_ms", &Q::max_queue_wait_ms, "longest wait for a free slot"},
    {"max_queue_length", &Q::max_queue_length, "requests waiting; 0 = 2 x total slots"},
};

const std::vector<Field<ReadinessProbe>> kProbeFields = {
    {"path", &P::path, "path probed with GET"},
    {"period", &P::period_s, "seconds between probes"},
    {"timeout", &P::timeout_s, "seconds a probe may take"},
    {"initial_delay", &P::initial_delay_s, "seconds before a new target's first probe"},
    {"success_threshold", &P::success_threshold, "passes in a row that make a target ready"},
    {"failure_threshold", &P::failure_threshold, "failures in a row that make it unready"},
    {"period_ms", &P::period_ms, "period in milliseconds; overrides period when not 0"},
    {"timeout_ms", &P::timeout_ms, "timeout in milliseconds; overrides timeout when not 0"},
    {"initial_delay_ms", &P::initial_delay_ms,
     "initial delay in milliseconds; overrides initial_delay when not 0"},
};

static_assert(std::is_same_v<unsigned, std::uint32_t>, "RouterSettings::workers is unsigned");

bool is_protected_only(std::string_view key) {
  const auto* f = find_field(kExtensionFields, key);
  return f && f->channel == Channel::protected_only;
}

bool is_extension_key(std::string_view key) {
  const auto* f = find_field(kExtensionFields, key);
  return f && f->channel == Channel::any;
}

std::vector<std::string_view> all_extension_keys() { return keys_of(kExtensionFields); }

namespace {

template <class S>
bool same_value(const S& a, const S& b, const Field<S>& f) {
  return std::visit([&](auto member) { return a.*member == b.*member; }, f.ref);
}

// The keys of `table` (prefixed as users write them) whose value differs and whose change a
// reload does not apply.
template <class S>
void restart_changes(const S& old, const S& next, const std::vector<Field<S>>& table,
                     std::string_view prefix, std::vector<std::string>& out) {
  for (const auto& f : table)
    if (f.on_reload != OnReload::apply && !same_value(old, next, f))
      out.push_back(std::string(prefix) + std::string(f.key));
}

}  // namespace

}  // namespace detail

std::vector<std::string> restart_required_changes(const Config& old, const Config& next) {
  std::vector<std::string> out;
  detail::restart_changes(old.extension, next.extension, detail::kExtensionFields, "", out);
  detail::restart_changes(old.router, next.router, detail::kRouterFields, "router.", out);
  return out;
}

bool refuses_reload(std::string_view key) {
  using detail::find_field;
  std::optional<detail::OnReload> on_reload;
  if (key.substr(0, 7) == "router.") {
    if (const auto* f = find_field(detail::kRouterFields, key.substr(7))) on_reload = f->on_reload;
  } else if (const auto* f = find_field(detail::kExtensionFields, key)) {
    on_reload = f->on_reload;
  }
  return on_reload == detail::OnReload::refuse;
}

}  // namespace scoregate::settings
