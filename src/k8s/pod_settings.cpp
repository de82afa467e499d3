// The user's settings -> the settings the router reads inside the pod: listeners on the
// container ports, sslSecret from the mounted volume, endpoint key files at their mount paths.
// Nothing secret is carried over into the text that goes into the ConfigMap.
#include <cctype>
#include <set>

#include "k8s/render.hpp"

namespace scoregate::k8s {
namespace {

std::string lowercase(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// For commands printed to be pasted into a shell: a wildcard sslCname or a path with spaces
// stays one argument.
std::string shell_quoted(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_.,/=:@+") == std::string::npos)
    return s;
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

std::string listen_address(std::uint16_t port) { return "0.0.0.0:" + std::to_string(port); }

// A value the user set that the pod must override, said once so nobody is surprised.
void replace(settings::Config& c, const std::string& key, std::string& value,
             const std::string& pod_value, const std::string& why,
             std::vector<std::string>& notes) {
  if (c.is_set(key) && !value.empty() && value != pod_value)
    notes.push_back(key + " " + value + " is replaced by " + pod_value + " in the pod: " + why);
  value = pod_value;
}

// The TLS source inside the pod is always a mounted Secret: sslSecret as given, or, for
// sslCertPemFile/sslKeyPemFile (files on the user's machine, which the extension turns into a
// cluster secret), a Secret named after the deployment that the user creates from those files.
// The PEM content is never put into the manifests: it holds the private key.
std::optional<MountedSecret> tls_secret(settings::Config& c, const RenderOptions& o,
                                        std::vector<std::string>& notes) {
  auto& e = c.extension;
  if (e.allow_insecure_connections) {
    // Ignored by the router (INSECURE_TLS_SETTINGS_IGNORED); dropping them keeps the PEM paths,
    // which are protected, out of the ConfigMap.
    e.ssl_secret.clear();
    e.ssl_cname.clear();
    e.ssl_cert_pem_file.clear();
    e.ssl_key_pem_file.clear();
    return std::nullopt;
  }
  MountedSecret s;
  s.volume = "tls";
  // sslCname helps `secret create` check the certificate; a protected one is not repeated.
  const std::string cname =
      c.is_protected("sslCname") ? "" : " --cname " + shell_quoted(e.ssl_cname);
  if (!e.ssl_cert_pem_file.empty()) {
    s.secret = o.name + "-tls";
    s.how = "scoregate secret create --name " + s.secret + " --namespace " + o.namespace_ +
            " --cert <sslCertPemFile> --key <sslKeyPemFile>" + cname + " | kubectl apply -f -";
    notes.push_back(
        "sslCertPemFile/sslKeyPemFile are files on this machine: the pod reads the certificate "
        "from Secret " +
        s.secret +
        " instead (sslSecret in the rendered settings); create it "
        "from those files before applying: " +
        s.how);
    e.ssl_cert_pem_file.clear();
    e.ssl_key_pem_file.clear();
    e.ssl_secret = s.secret;
  } else {
    s.secret = e.ssl_secret;
    const std::string shown = c.is_protected("sslSecret") ? "NAME" : s.secret;
    s.how = "scoregate secret create --name " + shown + " --namespace " + o.namespace_ +
            " --cert CERT.pem --key KEY.pem" + cname + " | kubectl apply -f -";
    if (!o.cert_manager_issuer.empty())
      notes.push_back("cert-manager Certificate " + o.name + " (" + o.cert_manager_issuer_kind +
                      " " + o.cert_manager_issuer + ") writes sslSecret in namespace " +
                      o.namespace_ +
                      " as type kubernetes.io/tls (tls.crt, tls.key, ca.crt); the pods start "
                      "once it is issued, and pick up each renewal without a restart");
    else
      notes.push_back("the pod mounts sslSecret from namespace " + o.namespace_ +
                      "; if it does not exist yet: " + s.how);
  }
  s.mount_path = std::string(kSecretVolumeRoot) + "/" + s.secret;
  return s;
}

// Endpoint key files become Secret volumes, one per endpoint, with the files `primary` and
// `secondary`; the settings point at them. The keys read from the user's files are dropped.
std::vector<MountedSecret> key_secrets(settings::Config& c, const RenderOptions& o,
                                       Problems& problems, std::vector<std::string>& notes) {
  std::vector<MountedSecret> out;
  std::set<std::string> used;
  for (std::size_t i = 0; i < c.endpoints.size(); ++i) {
    auto& ep = c.endpoints[i];
    const std::string at =
        (ep.where.empty() ? "" : ep.where + ": ") + "endpoints[" + std::to_string(i) + "].keys";
    const bool inline_primary = !ep.primary_key.empty() && ep.primary_key_file.empty();
    const bool inline_secondary = !ep.secondary_key.empty() && ep.secondary_key_file.empty();
    if (inline_primary || inline_secondary) {
      problems.error(
          "K8S_INLINE_KEYS", at,
          "endpoint '" + ep.name +
              "' has its keys inline: k8s render would have to put them "
              "into the ConfigMap, which anyone allowed to read ConfigMaps can read",
          "write the keys into files, refer to them with keys.primary_file / "
          "keys.secondary_file, and render again: the pod then mounts them from a Secret "
          "(the command to create it is printed)");
      continue;
    }
    ep.primary_key.clear();
    ep.secondary_key.clear();
    if (ep.primary_key_file.empty() && ep.secondary_key_file.empty()) continue;
    // Endpoint names allow upper case and a trailing '-'; Secret names do not.
    std::string secret = o.name + "-keys-" + lowercase(ep.name);
    while (secret.back() == '-') secret.pop_back();
    // Names are unique by construction: "abc-2", "abc", "ABC" must not end up sharing a Secret
    // (the second create command would overwrite the first endpoint's keys).
    const std::string base = secret;
    for (std::size_t n = i; !used.insert(secret).second; ++n)
      secret = base + "-" + std::to_string(n);
    MountedSecret s{"keys-" + std::to_string(i), secret, std::string(kKeysRoot) + "/" + ep.name,
                    "kubectl -n " + o.namespace_ + " create secret generic " + secret};
    // The files render read, so the command can be pasted as is: key-file paths are never
    // configuration-protected (only extension keys can be), the keys themselves stay in them.
    if (!ep.primary_key_file.empty()) {
      s.how += " --from-file=" + shell_quoted("primary=" + ep.primary_key_file);
      ep.primary_key_file = s.mount_path + "/primary";
    }
    if (!ep.secondary_key_file.empty()) {
      s.how += " --from-file=" + shell_quoted("secondary=" + ep.secondary_key_file);
      ep.secondary_key_file = s.mount_path + "/secondary";
    }
    notes.push_back("endpoint " + ep.name + " reads its keys from Secret " + secret +
                    " in the pod; create it before applying: " + s.how);
    out.push_back(std::move(s));
  }
  return out;
}

// Replicas share session ticket keys only through a file they all mount: a Secret the user
// creates from router.session_ticket_key_file (key bytes never go into the manifests).
std::optional<MountedSecret> ticket_secret(settings::Config& c, const RenderOptions& o,
                                           std::vector<std::string>& notes) {
  auto& file = c.router.session_ticket_key_file;
  if (c.extension.allow_insecure_connections) {
    file.clear();
    return std::nullopt;
  }
  if (file.empty()) {
    if (c.extension.inference_router_ha)
      notes.push_back(
          "the replicas do not share session ticket keys, so a client that reaches "
          "another replica pays a full TLS handshake; to share them, set "
          "router.session_ticket_key_file to a file made with `openssl rand 160 > "
          "ticket.key` and render again");
    return std::nullopt;
  }
  MountedSecret s{"tickets", o.name + "-tickets", kTicketsDir,
                  "kubectl -n " + o.namespace_ + " create secret generic " + o.name +
                      "-tickets --from-file=" + shell_quoted("ticket.key=" + file)};
  notes.push_back("the pod reads its session ticket keys from Secret " + s.secret +
                  "; create it before applying (and rotate it by updating the Secret): " + s.how);
  file = s.mount_path + "/ticket.key";
  return s;
}

// router.trusted_ca_file names a file on this machine: the pod reads it from a Secret the user
// creates from that file, unless it already points into the mounted TLS Secret (e.g. its
// ca.crt), which the pod has anyway.
std::optional<MountedSecret> trusted_ca_secret(settings::Config& c, const RenderOptions& o,
                                               const std::optional<MountedSecret>& tls,
                                               std::vector<std::string>& notes) {
  auto& file = c.router.trusted_ca_file;
  if (file.empty()) return std::nullopt;
  if (c.extension.allow_insecure_connections) {
    // Only certificate checks read it, and there is no certificate without TLS.
    file.clear();
    return std::nullopt;
  }
  // Only a file inside the TLS Secret's own mount is there already; any other path (another
  // Secret's directory, "..") gets a Secret of its own.
  if (tls && file.rfind(tls->mount_path + "/", 0) == 0 && file.find("..") == std::string::npos)
    return std::nullopt;
  MountedSecret s{"trusted-ca", o.name + "-trusted-ca", kTrustedCaDir,
                  "kubectl -n " + o.namespace_ + " create secret generic " + o.name +
                      "-trusted-ca --from-file=" + shell_quoted("ca.crt=" + file)};
  notes.push_back("the pod reads router.trusted_ca_file from Secret " + s.secret + " (at " +
                  s.mount_path + "/ca.crt); create it before applying: " + s.how);
  file = s.mount_path + "/ca.crt";
  return s;
}

}  // namespace

PodSettings pod_settings(const settings::Config& config, const RenderOptions& options,
                         Problems& problems) {
  PodSettings out;
  out.config = config;
  auto& c = out.config;
  auto& r = c.router;
  const bool insecure = c.extension.allow_insecure_connections;
  replace(c, "router.listen", r.listen, listen_address(insecure ? kHttpPort : kHttpsPort),
          "it is the container port the Service sends traffic to", out.notes);
  // The kubelet probes /readyz and /healthz on the pod IP: they get their own listener with
  // nothing else on it (router.probe_listen), so the admin listener, with /status and
  // POST /-/reload, stays where the user put it (loopback by default) and no other pod reaches it.
  replace(c, "router.probe_listen", r.probe_listen, listen_address(kProbePort),
          "the kubelet probes /readyz and /healthz on the pod IP (the Service does not expose it)",
          out.notes);
  if (!c.is_set("router.shutdown_delay_ms")) r.shutdown_delay_ms = kDefaultShutdownDelayMs;
  // Outside-Kubernetes settings: the pod reads sslSecret from the volume, and dev mode (the only
  // user of state_dir) does not happen with -f.
  r.secrets_dir.clear();
  r.state_dir.clear();
  out.tls = tls_secret(c, options, out.notes);
  out.keys = key_secrets(c, options, problems, out.notes);
  out.tickets = ticket_secret(c, options, out.notes);
  out.trusted_ca = trusted_ca_secret(c, options, out.tls, out.notes);
  if (options.image == kDefaultImage)
    out.notes.push_back("the image is " + kDefaultImage +
                        ", what `make image` builds on this machine; a cluster pulls it only "
                        "from a registry: push it there and pass --image REGISTRY/scoregate:" +
                        SCOREGATE_VERSION + " (README \"Container image\")");
  return out;
}

}  // namespace scoregate::k8s
