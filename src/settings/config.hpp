// The settings of one scoregate instance, as read from YAML and the command line
// (README "Configuration"; ARCHITECTURE.md "Settings: from YAML to a worker"). Plain values:
// parsing and validation live in settings.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace scoregate::settings {

// The seed's settings (the AzureML extension's `--config` / `--config-protected` keys).
struct ExtensionSettings {
  bool allow_insecure_connections = false;    // allowInsecureConnections
  std::string ssl_secret;                     // sslSecret ("" = unset)
  std::string ssl_cname;                      // sslCname, comma-separated names allowed
  std::string ssl_cert_pem_file;              // sslCertPemFile (protected)
  std::string ssl_key_pem_file;               // sslKeyPemFile (protected)
  std::string inference_router_service_type;  // LoadBalancer | NodePort | ClusterIP ("" = unset)
  bool enable_inference = true;               // enableInference (serve implies True)
  bool inference_router_ha = true;            // inferenceRouterHA
};

// scoregate's own settings (`router:` in YAML; flags override).
struct RouterSettings {
  std::string listen;  // "" = default for the mode (8443 TLS, 8080 insecure)
  std::string admin = "127.0.0.1:9901";
  // A second listener with /healthz, /readyz and /metrics only (no /status, no reload), for
  // probes and scrapers that cannot reach loopback (the kubelet); "" = none.
  std::string probe_listen;
  unsigned workers = 0;  // 0 = one per usable CPU (runtime/container.hpp)
  std::uint32_t max_header_bytes = 32768;
  std::uint64_t max_body_bytes = 104857600;
  std::string trusted_ca_file;          // private PKI roots, for certificate chain checks
  std::string secrets_dir;              // outside Kubernetes: <name>/ or <name>.yaml
  std::string state_dir;                // dev mode material; "" = ./.scoregate
  std::string min_tls_version = "1.2";  // "1.2" | "1.3"
  // Session ticket keys shared by replicas (nginx's 80-byte format, 1-3 keys, first encrypts);
  // "" = keys made in memory, rotated every 12 h.
  std::string session_ticket_key_file;
  // Client connections per process; 0 = derived from the open-files limit at start
  // (runtime::connection_limit_for(), README "Workers and limits").
  std::uint32_t max_connections = 0;
  std::uint32_t handshake_timeout_ms = 10000;  // TCP accept to the end of the TLS handshake
  std::uint32_t header_timeout_ms = 10000;     // first byte to end of request head
  std::uint32_t keepalive_timeout_ms = 60000;  // idle client connection
  std::uint32_t body_idle_timeout_ms = 30000;  // no body byte either way for this long
  // A request body must keep arriving at this average rate once min_body_rate_grace_ms of
  // waiting for it has passed (http/body_rate.hpp); 0 = no minimum rate.
  std::uint32_t min_body_rate_bytes_per_s = 1024;
  std::uint32_t min_body_rate_grace_ms = 10000;
  std::uint32_t drain_timeout_ms = 25000;  // SIGTERM: time for in-flight requests
  std::uint32_t dns_refresh_ms = 5000;     // re-resolution period of dns: targets
  // SIGTERM: keep serving (with /readyz failing) this long before draining, while load
  // balancers and kube-proxy stop sending new connections here.
  std::uint32_t shutdown_delay_ms = 0;
  // Start-up: /readyz waits at most this long for every deployment that receives traffic to
  // have a ready target or to finish its first probe round (README "Readiness"); 0 = no wait.
  std::uint32_t readiness_wait_ms = 30000;
  bool access_log = true;  // JSON lines on stdout
  // HTTP/2 from clients: ALPN "h2" on the TLS listener, prior-knowledge h2c on the insecure one
  // (README "HTTP/2 and gRPC"). false: HTTP/1.1 only. Applies to new connections.
  bool http2 = true;
  std::uint32_t http2_max_concurrent_streams = 128;  // per client connection, 1..1000
};

struct RequestSettings {
  std::uint32_t request_timeout_ms = 5000;                 // 1..300000
  std::uint32_t max_concurrent_requests_per_instance = 1;  // >= 1
  std::uint32_t max_queue_wait_ms = 500;                   // 0..300000
  std::uint32_t max_queue_length = 0;                      // 0 = 2 x total slots
};

struct ReadinessProbe {
  std::string path = "/";
  std::uint32_t period_s = 10;
  std::uint32_t timeout_s = 2;
  std::uint32_t initial_delay_s = 10;
  std::uint32_t success_threshold = 1;
  std::uint32_t failure_threshold = 30;
  // Sub-second values for tests: *_ms, when non-zero, override the second values.
  std::uint32_t period_ms = 0;
  std::uint32_t timeout_ms = 0;
  std::uint32_t initial_delay_ms = 0;
};

// How the router talks to a deployment's targets (`protocol:`): HTTP/1.1, HTTP/2 over plain
// TCP with prior knowledge (h2c), or HTTP/2 over TLS (h2, verified against
// router.trusted_ca_file and the system store).
enum class UpstreamProtocol { http1, h2c, h2 };
// "http1", "h2c", "h2": the spelling of the settings file.
const char* protocol_name(UpstreamProtocol p);

struct Deployment {
  std::string name;
  std::vector<std::string> targets;  // "host:port", "[v6]:port" or "dns:NAME:PORT"
  UpstreamProtocol protocol = UpstreamProtocol::http1;
  RequestSettings request_settings;
  std::optional<ReadinessProbe> readiness_probe;  // none = targets are always ready
  std::string where;                              // "file:line" of the deployment, for messages
};

enum class AuthMode { key, none };

struct Endpoint {
  std::string name;
  AuthMode auth_mode = AuthMode::key;
  std::string primary_key;    // secret: never printed or logged
  std::string secondary_key;  // secret
  // keys.primary_file / secondary_file, already read into the keys above by load(); kept so a
  // reload can re-read them. Not printed either (show() and messages name the setting only).
  std::string primary_key_file;
  std::string secondary_key_file;
  std::vector<std::pair<std::string, unsigned>> traffic;  // deployment -> percent
  // `traffic:` was written, even empty: only an omitted traffic gives a single deployment 100%.
  bool traffic_set = false;
  std::vector<std::pair<std::string, unsigned>> mirror_traffic;  // deployment -> percent
  std::vector<Deployment> deployments;
  // Open Inference Protocol v2 model names served besides the endpoint's own name
  // (/v2/models/<model>/...); unique across endpoints (README "HTTP/2 and gRPC").
  std::vector<std::string> models;
  std::string where;
};

struct Config {
  ExtensionSettings extension;
  RouterSettings router;
  std::vector<Endpoint> endpoints;
  std::string source;  // the YAML file, "" when only flags were given
  // Which keys were set explicitly (file or flags), for `settings show` and the
  // "dev mode" decision; names as spelled by users ("sslCname", "router.listen").
  std::vector<std::string> explicitly_set;
  bool is_set(const std::string& key) const;
  // Where each setting came from, so validate() can point at the line: keys as in
  // explicitly_set plus paths such as "endpoints[0].deployments[1].targets[0]"; values like
  // "scoregate.yaml:12: extension.sslCname" or "--config sslCname".
  std::map<std::string, std::string> origins;
  // Extension keys given under `protected:` or with --config-protected: their values are
  // treated like the PEM paths (never printed). sslCertPemFile/sslKeyPemFile always are.
  std::vector<std::string> protected_keys;
  bool is_protected(const std::string& key) const;
  // origins[key] when known, else `key` itself (configs built in code have no origins).
  std::string where_of(const std::string& key) const;
  // Settings the user gave that load() could not take (wrong type or value, wrong section, a
  // misspelling: then the known key it is nearest to), or whole sections ("extension",
  // "router", "endpoints") that could not be read. validate() skips the rules that depend on
  // them, so one mistake is reported once, not again as "missing".
  std::set<std::string> unreadable;
  bool unread(const std::string& key) const;
};

}  // namespace scoregate::settings
