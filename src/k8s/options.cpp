// The checks of `k8s render`'s own options: on their own (usage errors, exit 2) and against
// the settings (K8S_* problems, docs/settings-codes.md).
#include <cmath>
#include <cstdlib>
#include <regex>

#include "k8s/render.hpp"

namespace scoregate::k8s {
namespace {

// A Kubernetes resource quantity (apimachinery's resource.Quantity, non-negative), as a number
// of base units; nullopt when the text is not one.
std::optional<long double> quantity(const std::string& s) {
  static const std::regex form(
      R"(([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?[0-9]+)?)");
  std::smatch m;
  if (!std::regex_match(s, m, form)) return std::nullopt;
  // The form is checked above; strtold/strtol do not throw (stold/stoi would on overflow).
  long double v = std::strtold(m[1].str().c_str(), nullptr);
  const std::string suffix = m[3].str();
  static const char* binary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  static const char* decimal[] = {"k", "M", "G", "T", "P", "E"};
  for (int i = 0; i < 6; ++i) {
    if (suffix == binary[i]) return v * std::pow(1024.0L, i + 1);
    if (suffix == decimal[i]) return v * std::pow(1000.0L, i + 1);
  }
  if (suffix == "n") return v / 1e9L;
  if (suffix == "u") return v / 1e6L;
  if (suffix == "m") return v / 1e3L;
  if (!suffix.empty()) {
    const long exponent = std::strtol(suffix.c_str() + 1, nullptr, 10);  // saturates
    if (exponent > 30 || exponent < -30) return std::nullopt;            // no resource is that size
    return v * std::pow(10.0L, static_cast<int>(exponent));
  }
  return v;
}

std::optional<std::string> resource_problem(const RenderOptions& o) {
  struct Flag {
    const char* name;
    const std::string& value;
    bool optional;
  };
  const Flag flags[] = {{"--cpu-request", o.cpu_request, false},
                        {"--memory-request", o.memory_request, false},
                        {"--cpu-limit", o.cpu_limit, true},
                        {"--memory-limit", o.memory_limit, false}};
  for (const auto& f : flags) {
    if (f.optional && f.value.empty()) continue;
    if (!quantity(f.value))
      return std::string(f.name) + " '" + f.value +
             "' is not a Kubernetes quantity: a number with an optional suffix, e.g. 500m or 2 "
             "(CPU), 256Mi or 1Gi (memory)";
  }
  if (!o.cpu_limit.empty() && *quantity(o.cpu_request) > *quantity(o.cpu_limit))
    return "--cpu-request " + o.cpu_request + " is above --cpu-limit " + o.cpu_limit +
           ": Kubernetes refuses a request above its limit";
  if (*quantity(o.memory_request) > *quantity(o.memory_limit))
    return "--memory-request " + o.memory_request + " is above --memory-limit " + o.memory_limit +
           " (default 1Gi): Kubernetes refuses a request above its limit";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> options_problem(const RenderOptions& o) {
  // The name is also the Service's name (an RFC 1035 label) and the prefix of other names.
  static const std::regex label("[a-z]([-a-z0-9]*[a-z0-9])?");
  static const std::regex dns1123_label("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  static const std::regex dns1123_subdomain(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  if (!std::regex_match(o.name, label) || o.name.size() > 40)
    return "--name '" + o.name +
           "' is not a usable name: at most 40 lowercase letters, digits and '-', starting with "
           "a letter and ending with a letter or digit";
  if (!std::regex_match(o.namespace_, dns1123_label) || o.namespace_.size() > 63)
    return "--namespace '" + o.namespace_ +
           "' is not a Kubernetes namespace (lowercase letters, digits and '-')";
  if (o.image.empty() || o.image.find_first_of(" \t\r\n") != std::string::npos)
    return "--image must be an image reference without spaces, e.g. "
           "registry.example.com/scoregate:" SCOREGATE_VERSION;
  for (const auto& s : o.image_pull_secrets)
    if (!std::regex_match(s, dns1123_subdomain) || s.size() > 253)
      return "--image-pull-secret '" + s +
             "' is not a Secret name (lowercase letters, digits, '-' and '.')";
  if (o.replicas && (*o.replicas < 1 || *o.replicas > 1000))
    return "--replicas " + std::to_string(*o.replicas) + " is out of range: 1 to 1000";
  if (!o.cert_manager_issuer.empty() &&
      (!std::regex_match(o.cert_manager_issuer, dns1123_subdomain) ||
       o.cert_manager_issuer.size() > 253))
    return "--cert-manager-issuer '" + o.cert_manager_issuer +
           "' is not an issuer name (lowercase letters, digits, '-' and '.')";
  if (o.cert_manager_issuer_kind != "Issuer" && o.cert_manager_issuer_kind != "ClusterIssuer")
    return "--cert-manager-issuer-kind must be Issuer or ClusterIssuer";
  if (!o.external_traffic_policy.empty() && o.external_traffic_policy != "Local" &&
      o.external_traffic_policy != "Cluster")
    return "--external-traffic-policy must be Local or Cluster";
  return resource_problem(o);
}

void render_problems(const settings::Config& c, const RenderOptions& o, Problems& problems) {
  const auto& e = c.extension;
  if (!o.cert_manager_issuer.empty()) {
    if (e.allow_insecure_connections)
      problems.error("K8S_CERT_MANAGER_INSECURE", c.where_of("allowInsecureConnections"),
                     "--cert-manager-issuer with allowInsecureConnections=True: the router "
                     "serves plain HTTP and would never read the certificate",
                     "drop --cert-manager-issuer, or turn TLS on (remove "
                     "allowInsecureConnections, set sslSecret and sslCname)");
    else if (!e.ssl_cert_pem_file.empty() || e.ssl_secret.empty())
      problems.error(
          "K8S_CERT_MANAGER_NEEDS_SSL_SECRET",
          e.ssl_cert_pem_file.empty() ? c.where_of("sslSecret") : c.where_of("sslCertPemFile"),
          std::string("--cert-manager-issuer writes the certificate into the Secret that "
                      "sslSecret names, and ") +
              (e.ssl_cert_pem_file.empty() ? "sslSecret is not set"
                                           : "the settings use sslCertPemFile/sslKeyPemFile "
                                             "(files on this machine) instead"),
          "set sslSecret to the Secret cert-manager should write (e.g. --config "
          "sslSecret=scoring-tls) and remove sslCertPemFile/sslKeyPemFile");
  }
  if (!o.external_traffic_policy.empty() && e.inference_router_service_type == "ClusterIP")
    problems.error("K8S_TRAFFIC_POLICY_CLUSTER_IP", c.where_of("inferenceRouterServiceType"),
                   "--external-traffic-policy " + o.external_traffic_policy +
                       " with inferenceRouterServiceType ClusterIP: only LoadBalancer and "
                       "NodePort Services take traffic from outside the cluster",
                   "drop --external-traffic-policy, or set inferenceRouterServiceType to "
                   "LoadBalancer or NodePort");
}

}  // namespace scoregate::k8s
