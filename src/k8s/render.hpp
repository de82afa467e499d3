// `scoregate k8s render`: validated settings -> the Kubernetes manifests that run them (a
// ConfigMap with the settings as the pod reads them, a Deployment, a Service and, with
// inferenceRouterHA, a PodDisruptionBudget). Sans-IO: settings in, YAML text out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "settings/settings.hpp"

namespace scoregate::k8s {

// Where the pod finds things. kSecretVolumeRoot is the path tls/ reads sslSecret from
// (tls::kSecretVolumeRoot; a unit test keeps the two equal, k8s/ does not depend on tls/).
inline constexpr const char* kSecretVolumeRoot = "/etc/scoregate/secrets";
inline constexpr const char* kConfigDir = "/etc/scoregate/config";
inline constexpr const char* kConfigFile = "scoregate.yaml";
inline constexpr const char* kKeysRoot = "/etc/scoregate/keys";
inline constexpr const char* kTicketsDir = "/etc/scoregate/tickets";
inline constexpr const char* kTrustedCaDir = "/etc/scoregate/trusted-ca";
inline constexpr std::uint16_t kHttpsPort = 8443;
inline constexpr std::uint16_t kHttpPort = 8080;
inline constexpr std::uint16_t kAdminPort = 9901;  // router.admin: loopback in the pod
inline constexpr std::uint16_t kProbePort = 9902;  // router.probe_listen: the kubelet's probes
// SIGTERM delay written into the pod's settings when the user left shutdown_delay_ms unset:
// long enough for Endpoints and kube-proxy to stop sending new connections to a stopping pod.
inline constexpr std::uint32_t kDefaultShutdownDelayMs = 5000;

// What `make image` tags (localhost/scoregate:VERSION in podman's terms): found by a local
// podman, pulled by no cluster until pushed to a registry and passed as --image.
inline const std::string kDefaultImage = std::string("scoregate:") + SCOREGATE_VERSION;

struct RenderOptions {
  std::string name = "scoregate";  // every object's name (and prefix) and the instance label
  std::string namespace_ = "azureml";
  std::string image = kDefaultImage;

  bool create_namespace = false;                // a Namespace document first
  std::vector<std::string> image_pull_secrets;  // pod imagePullSecrets, in order
  std::optional<unsigned> replicas;             // none: 3 with inferenceRouterHA, else 1
  // Kubernetes quantities; an empty cpu_limit writes no CPU limit.
  std::string cpu_request = "250m";
  std::string memory_request = "128Mi";
  std::string cpu_limit;
  std::string memory_limit = "1Gi";
  std::string external_traffic_policy;  // "" (the cluster's default), "Local" or "Cluster"
  bool network_policy = false;          // a NetworkPolicy for the pods
  std::string cert_manager_issuer;      // "" = no cert-manager Certificate
  std::string cert_manager_issuer_kind = "Issuer";  // Issuer | ClusterIssuer
};

// Why the options are unusable on their own (a usage error: names Kubernetes refuses, a
// quantity that is not one, a request above its limit...), or nullopt.
std::optional<std::string> options_problem(const RenderOptions& options);

// A Secret the pod mounts whose content render does not write: printing it would print a
// private key or an endpoint key. The user creates it (`how` says with which command).
struct MountedSecret {
  std::string volume;      // volume name in the pod
  std::string secret;      // Secret name
  std::string mount_path;  // directory in the container
  std::string how;         // the command that creates it (placeholders for protected values)
};

// The settings as the router reads them inside the pod, and what the pod must mount for them.
struct PodSettings {
  settings::Config config;
  std::optional<MountedSecret> tls;         // none with allowInsecureConnections=True
  std::vector<MountedSecret> keys;          // one per endpoint with key files
  std::optional<MountedSecret> tickets;     // router.session_ticket_key_file, when set
  std::optional<MountedSecret> trusted_ca;  // router.trusted_ca_file outside the TLS Secret
  std::vector<std::string> notes;           // what changed from the user's settings, what to create
};

// K8S_INLINE_KEYS when an endpoint has inline keys (they would land in a ConfigMap).
PodSettings pod_settings(const settings::Config& config, const RenderOptions& options,
                         Problems& problems);

struct Rendered {
  std::string yaml;                // multi-document manifest; empty when problems has errors
  std::vector<std::string> notes;  // for stderr; also written as comments at the top of yaml
  Problems problems;
};

// What the options cannot do with these settings (cert-manager without sslSecret, an external
// traffic policy on a ClusterIP Service, ...): K8S_* errors added to `problems`.
void render_problems(const settings::Config& config, const RenderOptions& options,
                     Problems& problems);

// `settings` must have been validated with Purpose::render (service type set and canonical).
Rendered render(const settings::ValidatedSettings& settings, const RenderOptions& options);

}  // namespace scoregate::k8s
