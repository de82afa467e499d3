// The optional objects of `k8s render` (docs/kubernetes.md): the Namespace, the NetworkPolicy,
// the cert-manager Certificate, and the zone spread of the HA pods.
#include <set>

#include "k8s/emit.hpp"
#include "settings/settings.hpp"

namespace scoregate::k8s::detail {
namespace {

void port_entry(YAML::Emitter& out, int number, const char* protocol) {
  out << YAML::Flow << YAML::BeginMap;
  key(out, "port");
  out << number;
  key(out, "protocol");
  out << protocol;
  out << YAML::EndMap;
}

// The TCP ports of every model target ("host:port", "[v6]:port", "dns:NAME:PORT"), sorted.
std::set<int> target_ports(const settings::Config& c) {
  std::set<int> ports;
  for (const auto& ep : c.endpoints)
    for (const auto& d : ep.deployments)
      for (const auto& t : d.targets) {
        const auto colon = t.rfind(':');
        if (colon == std::string::npos) continue;
        try {
          const int port = std::stoi(t.substr(colon + 1));
          if (port > 0 && port < 65536) ports.insert(port);
        } catch (const std::exception&) {
          // validate() has refused such a target already.
        }
      }
  return ports;
}

void match_labels(YAML::Emitter& out, const Context& x) {
  out << YAML::BeginMap;
  key(out, "matchLabels");
  selector_labels(out, x);
  out << YAML::EndMap;
}

void ingress(YAML::Emitter& out, const Context& x) {
  key(out, "ingress");
  out << YAML::BeginSeq;
  // The scoring port from anywhere: clients come through the Service from outside the cluster.
  out << YAML::BeginMap;
  key(out, "ports");
  out << YAML::BeginSeq;
  port_entry(out, x.insecure ? kHttpPort : kHttpsPort, "TCP");
  out << YAML::EndSeq << YAML::EndMap;
  // The probe port (/healthz, /readyz, /metrics) from pods of any namespace (Prometheus); the
  // kubelet probes from its own node, which the common network plugins always let through.
  out << YAML::BeginMap;
  key(out, "from");
  out << YAML::BeginSeq << YAML::BeginMap;
  key(out, "namespaceSelector");
  out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  out << YAML::EndMap << YAML::EndSeq;
  key(out, "ports");
  out << YAML::BeginSeq;
  port_entry(out, kProbePort, "TCP");
  out << YAML::EndSeq << YAML::EndMap;
  out << YAML::EndSeq;
}

void egress(YAML::Emitter& out, const Context& x) {
  key(out, "egress");
  out << YAML::BeginSeq;
  // Name lookups of dns: targets, to the cluster DNS only.
  out << YAML::BeginMap;
  key(out, "to");
  out << YAML::BeginSeq << YAML::BeginMap;
  key(out, "namespaceSelector");
  out << YAML::BeginMap;
  key(out, "matchLabels");
  out << YAML::BeginMap;
  key(out, "kubernetes.io/metadata.name");
  out << "kube-system";
  out << YAML::EndMap << YAML::EndMap;
  key(out, "podSelector");
  out << YAML::BeginMap;
  key(out, "matchLabels");
  out << YAML::BeginMap;
  key(out, "k8s-app");
  out << "kube-dns";
  out << YAML::EndMap << YAML::EndMap;
  out << YAML::EndMap << YAML::EndSeq;
  key(out, "ports");
  out << YAML::BeginSeq;
  port_entry(out, 53, "UDP");
  port_entry(out, 53, "TCP");
  out << YAML::EndSeq << YAML::EndMap;
  // The models: their ports, wherever they run (targets may be pod, Service or outside IPs).
  const auto ports = target_ports(x.pod.config);
  if (!ports.empty()) {
    out << YAML::BeginMap;
    key(out, "ports");
    out << YAML::BeginSeq;
    for (int p : ports) port_entry(out, p, "TCP");
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

}  // namespace

void namespace_object(YAML::Emitter& out, const Context& x) {
  begin(out, x, "v1", "Namespace", x.o.namespace_, false);
  out << YAML::EndMap;
}

void network_policy(YAML::Emitter& out, const Context& x) {
  begin(out, x, "networking.k8s.io/v1", "NetworkPolicy", x.o.name);
  key(out, "spec");
  out << YAML::BeginMap;
  key(out, "podSelector");
  match_labels(out, x);
  key(out, "policyTypes");
  out << YAML::Flow << YAML::BeginSeq << "Ingress"
      << "Egress" << YAML::EndSeq;
  ingress(out, x);
  egress(out, x);
  out << YAML::EndMap << YAML::EndMap;
}

void certificate(YAML::Emitter& out, const Context& x) {
  const auto& e = x.pod.config.extension;
  begin(out, x, "cert-manager.io/v1", "Certificate", x.o.name);
  key(out, "spec");
  out << YAML::BeginMap;
  key(out, "secretName");
  text(out, e.ssl_secret);
  // sslCname: host names only (validate() refuses addresses).
  key(out, "dnsNames");
  out << YAML::BeginSeq;
  for (const auto& name : settings::cname_list(e.ssl_cname)) text(out, name);
  out << YAML::EndSeq;
  // 90 days, renewed 30 days before the end (ACME issuers decide the lifetime themselves;
  // cert-manager then renews at two thirds of it if that comes first).
  key(out, "duration");
  out << "2160h";
  key(out, "renewBefore");
  out << "720h";
  // A new ECDSA P-256 key at every renewal: a key that leaked once does not stay valid.
  key(out, "privateKey");
  out << YAML::BeginMap;
  key(out, "algorithm");
  out << "ECDSA";
  key(out, "size");
  out << 256;
  key(out, "encoding");
  out << "PKCS8";
  key(out, "rotationPolicy");
  out << "Always";
  out << YAML::EndMap;
  // A TLS server certificate with an ECDSA key: signatures, no key encipherment.
  key(out, "usages");
  out << YAML::Flow << YAML::BeginSeq << "server auth"
      << "digital signature" << YAML::EndSeq;
  key(out, "issuerRef");
  out << YAML::BeginMap;
  key(out, "name");
  text(out, x.o.cert_manager_issuer);
  key(out, "kind");
  text(out, x.o.cert_manager_issuer_kind);
  key(out, "group");
  out << "cert-manager.io";
  out << YAML::EndMap;
  out << YAML::EndMap << YAML::EndMap;
}

void topology_spread(YAML::Emitter& out, const Context& x) {
  // ScheduleAnyway: a preference, so a single-zone cluster still runs every replica.
  key(out, "topologySpreadConstraints");
  out << YAML::BeginSeq << YAML::BeginMap;
  key(out, "maxSkew");
  out << 1;
  key(out, "topologyKey");
  out << "topology.kubernetes.io/zone";
  key(out, "whenUnsatisfiable");
  out << "ScheduleAnyway";
  key(out, "labelSelector");
  match_labels(out, x);
  out << YAML::EndMap << YAML::EndSeq;
}

}  // namespace scoregate::k8s::detail
