// The manifests of `scoregate k8s render`, written with yaml-cpp's emitter: every string that
// comes from the user (names, paths, the image, the settings text) is quoted by the emitter, so
// a ':' or '#' in it cannot change the document's structure.
#include "k8s/render.hpp"

#include <openssl/sha.h>
#include <yaml-cpp/yaml.h>

#include "k8s/emit.hpp"

#include <stdexcept>

namespace scoregate::k8s::detail {

// User-controlled text is always double-quoted: yaml-cpp writes "123" or "null" plain, which
// YAML would read back as a number or null.
YAML::Emitter& text(YAML::Emitter& out, const std::string& s) {
  return out << YAML::DoubleQuoted << s;
}

void key(YAML::Emitter& out, const char* k) { out << YAML::Key << k << YAML::Value; }

namespace {

bool has_unicode_line_break(std::string_view s) {
  return s.find("\xC2\x85") != std::string_view::npos ||
         s.find("\xE2\x80\xA8") != std::string_view::npos ||
         s.find("\xE2\x80\xA9") != std::string_view::npos;
}

std::string sha256_hex(std::string_view s) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// The labels that select the pods (Deployment, Service, budget); labels() adds to them.
void selector_entries(YAML::Emitter& out, const Context& x) {
  key(out, "app.kubernetes.io/name");
  out << "scoregate";
  key(out, "app.kubernetes.io/instance");
  text(out, x.o.name);
}

}  // namespace

void selector_labels(YAML::Emitter& out, const Context& x) {
  out << YAML::BeginMap;
  selector_entries(out, x);
  out << YAML::EndMap;
}

namespace {

void labels(YAML::Emitter& out, const Context& x) {
  out << YAML::BeginMap;
  selector_entries(out, x);
  key(out, "app.kubernetes.io/version");
  text(out, SCOREGATE_VERSION);
  key(out, "app.kubernetes.io/component");
  out << "inference-router";
  key(out, "app.kubernetes.io/managed-by");
  out << "scoregate-k8s-render";
  out << YAML::EndMap;
}

}  // namespace

void begin(YAML::Emitter& out, const Context& x, const char* api, const char* kind,
           const std::string& name, bool namespaced) {
  out << YAML::BeginDoc << YAML::BeginMap;
  key(out, "apiVersion");
  out << api;
  key(out, "kind");
  out << kind;
  key(out, "metadata");
  out << YAML::BeginMap;
  key(out, "name");
  text(out, name);
  if (namespaced) {
    key(out, "namespace");
    text(out, x.o.namespace_);
  }
  key(out, "labels");
  labels(out, x);
  out << YAML::EndMap;
}

namespace {

void config_map(YAML::Emitter& out, const Context& x) {
  begin(out, x, "v1", "ConfigMap", x.config_map());
  key(out, "data");
  out << YAML::BeginMap;
  key(out, kConfigFile);
  // YAML 1.1 readers (kubectl's among them) also break lines at U+0085, U+2028 and U+2029; a
  // path holding one could end a literal block early and add keys. Such text is written
  // double-quoted with every non-ASCII character escaped instead.
  if (has_unicode_line_break(x.settings_text))
    out << YAML::EscapeNonAscii << YAML::DoubleQuoted << x.settings_text;
  else
    out << YAML::Literal << x.settings_text;
  out << YAML::EndMap << YAML::EndMap;
}

void http_probe(YAML::Emitter& out, const char* path, int period, int failures) {
  out << YAML::BeginMap;
  key(out, "httpGet");
  out << YAML::BeginMap;
  key(out, "path");
  out << path;
  key(out, "port");
  out << "probes";
  out << YAML::EndMap;
  key(out, "periodSeconds");
  out << period;
  key(out, "timeoutSeconds");
  out << 2;
  key(out, "failureThreshold");
  out << failures;
  out << YAML::EndMap;
}

void port(YAML::Emitter& out, const char* name, int number) {
  out << YAML::Flow << YAML::BeginMap;
  key(out, "name");
  out << name;
  key(out, "containerPort");
  out << number;
  key(out, "protocol");
  out << "TCP";
  out << YAML::EndMap;
}

// Every Secret and ConfigMap the container reads, in mount order: config, tls, keys, tickets,
// trusted CA.
std::vector<MountedSecret> mounts(const Context& x) {
  std::vector<MountedSecret> all;
  all.push_back({"config", x.config_map(), kConfigDir, ""});
  if (x.pod.tls) all.push_back(*x.pod.tls);
  for (const auto& k : x.pod.keys) all.push_back(k);
  if (x.pod.tickets) all.push_back(*x.pod.tickets);
  if (x.pod.trusted_ca) all.push_back(*x.pod.trusted_ca);
  return all;
}

void resources(YAML::Emitter& out, const Context& x) {
  // Requests for scheduling; a memory limit against leaks; by default no CPU limit, whose
  // throttling would show up as tail latency of every request (--cpu-limit sets one).
  key(out, "resources");
  out << YAML::BeginMap;
  key(out, "requests");
  out << YAML::Flow << YAML::BeginMap;
  key(out, "cpu");
  text(out, x.o.cpu_request);
  key(out, "memory");
  text(out, x.o.memory_request);
  out << YAML::EndMap;
  key(out, "limits");
  out << YAML::Flow << YAML::BeginMap;
  if (!x.o.cpu_limit.empty()) {
    key(out, "cpu");
    text(out, x.o.cpu_limit);
  }
  key(out, "memory");
  text(out, x.o.memory_limit);
  out << YAML::EndMap;
  out << YAML::EndMap;
}

void container(YAML::Emitter& out, const Context& x) {
  out << YAML::BeginMap;
  key(out, "name");
  out << "scoregate";
  key(out, "image");
  text(out, x.o.image);
  key(out, "args");
  out << YAML::Flow << YAML::BeginSeq << "serve"
      << "-f";
  text(out, std::string(kConfigDir) + "/" + kConfigFile);
  out << YAML::EndSeq;
  key(out, "ports");
  out << YAML::BeginSeq;
  port(out, x.port_name(), x.insecure ? kHttpPort : kHttpsPort);
  port(out, "probes", kProbePort);
  out << YAML::EndSeq;
  key(out, "readinessProbe");
  http_probe(out, "/readyz", 2, 2);
  key(out, "livenessProbe");
  http_probe(out, "/healthz", 10, 3);
  resources(out, x);
  key(out, "securityContext");
  out << YAML::BeginMap;
  key(out, "allowPrivilegeEscalation");
  out << false;
  key(out, "readOnlyRootFilesystem");
  out << true;
  key(out, "capabilities");
  out << YAML::BeginMap;
  key(out, "drop");
  out << YAML::Flow << YAML::BeginSeq << "ALL" << YAML::EndSeq;
  out << YAML::EndMap;
  out << YAML::EndMap;
  key(out, "volumeMounts");
  out << YAML::BeginSeq;
  for (const auto& m : mounts(x)) {
    out << YAML::BeginMap;
    key(out, "name");
    text(out, m.volume);
    key(out, "mountPath");
    text(out, m.mount_path);
    key(out, "readOnly");
    out << true;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
}

void volumes(YAML::Emitter& out, const Context& x) {
  out << YAML::BeginSeq;
  for (const auto& m : mounts(x)) {
    const bool is_config = m.volume == "config";
    out << YAML::BeginMap;
    key(out, "name");
    text(out, m.volume);
    key(out, is_config ? "configMap" : "secret");
    out << YAML::BeginMap;
    key(out, is_config ? "name" : "secretName");
    text(out, m.secret);
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void anti_affinity(YAML::Emitter& out, const Context& x) {
  // Preferred, not required: a cluster with fewer nodes than replicas still runs them all.
  key(out, "affinity");
  out << YAML::BeginMap;
  key(out, "podAntiAffinity");
  out << YAML::BeginMap;
  key(out, "preferredDuringSchedulingIgnoredDuringExecution");
  out << YAML::BeginSeq << YAML::BeginMap;
  key(out, "weight");
  out << 100;
  key(out, "podAffinityTerm");
  out << YAML::BeginMap;
  key(out, "topologyKey");
  out << "kubernetes.io/hostname";
  key(out, "labelSelector");
  out << YAML::BeginMap;
  key(out, "matchLabels");
  selector_labels(out, x);
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap << YAML::EndMap;
}

void pod_spec(YAML::Emitter& out, const Context& x) {
  const auto& r = x.pod.config.router;
  out << YAML::BeginMap;
  if (x.ha) {
    anti_affinity(out, x);
    topology_spread(out, x);
  }
  if (!x.o.image_pull_secrets.empty()) {
    key(out, "imagePullSecrets");
    out << YAML::BeginSeq;
    for (const auto& name : x.o.image_pull_secrets) {
      out << YAML::Flow << YAML::BeginMap;
      key(out, "name");
      text(out, name);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  // SIGTERM: shutdown_delay_ms of serving with /readyz failing, then drain_timeout_ms for the
  // requests in flight; the kubelet's SIGKILL must come after both.
  const std::uint64_t ms = std::uint64_t(r.shutdown_delay_ms) + r.drain_timeout_ms;
  key(out, "terminationGracePeriodSeconds");
  out << (ms + 999) / 1000 + 5;
  // The router reads only its mounted volumes; it never calls the API server.
  key(out, "automountServiceAccountToken");
  out << false;
  key(out, "securityContext");
  out << YAML::BeginMap;
  key(out, "runAsNonRoot");
  out << true;
  key(out, "runAsUser");
  out << 65532;
  key(out, "runAsGroup");
  out << 65532;
  key(out, "seccompProfile");
  out << YAML::Flow << YAML::BeginMap;
  key(out, "type");
  out << "RuntimeDefault";
  out << YAML::EndMap << YAML::EndMap;
  key(out, "containers");
  out << YAML::BeginSeq;
  container(out, x);
  out << YAML::EndSeq;
  key(out, "volumes");
  volumes(out, x);
  out << YAML::EndMap;
}

void deployment(YAML::Emitter& out, const Context& x) {
  begin(out, x, "apps/v1", "Deployment", x.o.name);
  key(out, "spec");
  out << YAML::BeginMap;
  key(out, "replicas");
  out << (x.o.replicas ? *x.o.replicas : x.ha ? 3u : 1u);
  key(out, "selector");
  out << YAML::BeginMap;
  key(out, "matchLabels");
  selector_labels(out, x);
  out << YAML::EndMap;
  // A new pod is ready before an old one stops: no capacity lost during a rollout.
  key(out, "strategy");
  out << YAML::BeginMap;
  key(out, "type");
  out << "RollingUpdate";
  key(out, "rollingUpdate");
  out << YAML::Flow << YAML::BeginMap;
  key(out, "maxUnavailable");
  out << 0;
  key(out, "maxSurge");
  out << 1;
  out << YAML::EndMap << YAML::EndMap;
  key(out, "template");
  out << YAML::BeginMap;
  key(out, "metadata");
  out << YAML::BeginMap;
  key(out, "labels");
  labels(out, x);
  // Changed settings change the pod template, so `kubectl apply` rolls the pods (one at a time,
  // maxUnavailable 0) instead of leaving running replicas on the old ConfigMap content.
  key(out, "annotations");
  out << YAML::BeginMap;
  key(out, "scoregate.io/settings-sha256");
  text(out, x.settings_sha256);
  // Prometheus' conventional kubernetes_sd relabelling: scrape /metrics on the probe port.
  key(out, "prometheus.io/scrape");
  text(out, "true");
  key(out, "prometheus.io/port");
  text(out, std::to_string(kProbePort));
  key(out, "prometheus.io/path");
  text(out, "/metrics");
  out << YAML::EndMap;
  out << YAML::EndMap;
  key(out, "spec");
  pod_spec(out, x);
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
}

void service(YAML::Emitter& out, const Context& x) {
  begin(out, x, "v1", "Service", x.o.name);
  key(out, "spec");
  out << YAML::BeginMap;
  key(out, "type");
  text(out, x.service_type);
  // Local: no second hop to another node, so the pod sees the client's address (refused for
  // ClusterIP in render(), which has no external traffic).
  if (!x.o.external_traffic_policy.empty()) {
    key(out, "externalTrafficPolicy");
    text(out, x.o.external_traffic_policy);
  }
  key(out, "selector");
  selector_labels(out, x);
  // Only the scoring port: the probe port stays reachable on pod IPs only, the admin listener
  // (reload, status) on loopback.
  key(out, "ports");
  out << YAML::BeginSeq << YAML::Flow << YAML::BeginMap;
  key(out, "name");
  out << x.port_name();
  key(out, "port");
  out << (x.insecure ? 80 : 443);
  key(out, "targetPort");
  out << x.port_name();
  key(out, "protocol");
  out << "TCP";
  out << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap << YAML::EndMap;
}

void disruption_budget(YAML::Emitter& out, const Context& x) {
  begin(out, x, "policy/v1", "PodDisruptionBudget", x.o.name);
  key(out, "spec");
  out << YAML::BeginMap;
  // At most one replica down at a time for voluntary disruptions (node drains): minAvailable 1
  // would let a drain take two of the three at once.
  key(out, "maxUnavailable");
  out << 1;
  key(out, "selector");
  out << YAML::BeginMap;
  key(out, "matchLabels");
  selector_labels(out, x);
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
}

}  // namespace
}  // namespace scoregate::k8s::detail

namespace scoregate::k8s {

Rendered render(const settings::ValidatedSettings& settings, const RenderOptions& options) {
  using namespace detail;
  Rendered out;
  const auto& c = settings.config();
  PodSettings pod = pod_settings(c, options, out.problems);
  out.notes = pod.notes;
  if (c.extension.allow_insecure_connections)
    out.notes.push_back(
        "allowInsecureConnections=True: the Service serves plain HTTP on port 80; "
        "development and testing only");
  render_problems(c, options, out.problems);
  if (out.problems.has_errors()) return out;
  detail::Context x{options,
                    pod,
                    c.extension.allow_insecure_connections,
                    c.extension.inference_router_ha,
                    c.extension.inference_router_service_type,
                    settings::write(pod.config),
                    ""};
  x.settings_sha256 = detail::sha256_hex(x.settings_text);
  YAML::Emitter yaml;
  if (options.create_namespace) namespace_object(yaml, x);
  config_map(yaml, x);
  deployment(yaml, x);
  service(yaml, x);
  if (x.ha) disruption_budget(yaml, x);
  if (options.network_policy) network_policy(yaml, x);
  if (!options.cert_manager_issuer.empty()) certificate(yaml, x);
  if (!yaml.good())
    throw std::runtime_error("k8s render: the manifests could not be written as YAML: " +
                             yaml.GetLastError());
  std::string head = "# scoregate " SCOREGATE_VERSION
                     " k8s render: apply with kubectl apply -f - (namespace " +
                     options.namespace_ + ")\n";
  for (const auto& n : out.notes) {
    // A comment line must stay one line for every YAML reader: control characters and any
    // non-ASCII byte (U+2028 and friends break lines in YAML 1.1) become '?'.
    std::string line = n;
    for (auto& ch : line) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 0x20 || u >= 0x7f) ch = '?';
    }
    head += "# note: " + line + "\n";
  }
  out.yaml = head + yaml.c_str() + "\n";
  return out;
}

}  // namespace scoregate::k8s
