// Which keys of a Secret hold the certificate: cert.pem/key.pem, as the AzureML extension
// reads them, or tls.crt/tls.key of a kubernetes.io/tls Secret (README "Certificates from a
// Kubernetes Secret"); the same rules for a mounted directory and a manifest.
#include "tls/secret.hpp"

namespace scoregate::tls {

namespace {

std::string with_name(std::string text, const std::string& name) {
  for (auto at = text.find("NAME"); at != std::string::npos;
       at = text.find("NAME", at + name.size()))
    text.replace(at, 4, name);
  return text;
}

bool complete(const SecretKeys& keys, SecretLayout layout) {
  return keys.has(layout.cert) && keys.has(layout.key);
}

bool partial(const SecretKeys& keys, SecretLayout layout) {
  return keys.has(layout.cert) || keys.has(layout.key);
}

// "its keys: a, b" for the message about a Secret holding neither pair. Key names are not
// secret (kubectl describe shows them); values are never read for this.
std::string key_list(const SecretKeys& keys) {
  auto names = keys.names();
  if (names.empty()) return "it holds no key at all";
  std::string out = "its keys: ";
  for (std::size_t i = 0; i < names.size() && i < 8; ++i)
    out += (i ? ", " : "") + shown_secret_field(names[i], false);
  if (names.size() > 8) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

void report_neither(const SecretKeys& keys, const SecretName& name, Problems& problems) {
  problems.error("SECRET_KEY_MISSING", name.label(),
                 "the Secret holds neither cert.pem and key.pem nor tls.crt and tls.key (" +
                     key_list(keys) + "; looked in " + keys.shown("") + ")",
                 "create it: " + secret_create_commands(name));
}

void report_missing(const SecretKeys& keys, const SecretName& name, SecretLayout layout,
                    const char* missing, Problems& problems) {
  const char* present = missing == layout.cert ? layout.key : layout.cert;
  problems.error("SECRET_KEY_MISSING", name.label() + " " + missing,
                 "the Secret has " + std::string(present) + " but no " + missing + " (looked for " +
                     keys.shown(missing) + ")",
                 "add " + std::string(missing) +
                     " (a Secret holds cert.pem and key.pem, or tls.crt and tls.key), or "
                     "re-create it: " +
                     secret_create_commands(name));
}

// ca.crt (kubernetes.io/tls, cert-manager) or ca.pem: optional, and empty is the same as
// absent (cert-manager leaves ca.crt empty for issuers that do not know their root).
bool read_ca(const SecretKeys& keys, const SecretName& name, Material& m, Problems& problems) {
  for (const char* file : {"ca.crt", "ca.pem"}) {
    if (!keys.has(file)) continue;
    m.ca_label = name.label() + " " + file;
    auto bytes = keys.read(file, m.ca_label, "CERT_CA_FILE_INVALID", problems);
    if (!bytes) return false;
    m.ca_bytes = std::move(*bytes);
    return true;
  }
  return true;
}

}  // namespace

std::string secret_create_commands(const SecretName& name) {
  return with_name(
      "kubectl create secret generic NAME -n azureml --from-file=cert.pem "
      "--from-file=key.pem [--from-file=ca.crt], or kubectl create secret tls NAME -n azureml "
      "--cert=tls.crt --key=tls.key (or scoregate secret create --name NAME --cert cert.pem "
      "--key key.pem [--ca-file root.pem])",
      name.in_command());
}

std::optional<SecretLayout> choose_layout(const SecretKeys& keys) {
  if (complete(keys, kAzureMlLayout)) return kAzureMlLayout;
  if (complete(keys, kTlsLayout)) return kTlsLayout;
  if (partial(keys, kAzureMlLayout)) return kAzureMlLayout;
  if (partial(keys, kTlsLayout)) return kTlsLayout;
  return std::nullopt;
}

std::optional<Material> material_from_keys(const SecretKeys& keys, const SecretName& name,
                                           Problems& problems) {
  auto layout = choose_layout(keys);
  if (!layout) {
    report_neither(keys, name, problems);
    return std::nullopt;
  }
  bool ok = true;
  for (const char* file : {layout->cert, layout->key})
    if (!keys.has(file)) {
      report_missing(keys, name, *layout, file, problems);
      ok = false;
    }
  if (!ok) return std::nullopt;
  if (layout->cert == kAzureMlLayout.cert && complete(keys, kTlsLayout))
    problems.warning("SECRET_TWO_LAYOUTS", name.label(),
                     "the Secret holds both cert.pem/key.pem and tls.crt/tls.key; scoregate "
                     "serves cert.pem and key.pem (the AzureML extension's keys) and ignores "
                     "tls.crt and tls.key",
                     "keep one pair in the Secret, so that what is served is not a guess");
  Material m;
  m.cert_label = name.label() + " " + layout->cert;
  m.key_label = name.label() + " " + layout->key;
  auto cert = keys.read(layout->cert, m.cert_label, "CERT_FILE_UNREADABLE", problems);
  auto key = keys.read(layout->key, m.key_label, "KEY_FILE_UNREADABLE", problems);
  ok = read_ca(keys, name, m, problems) && cert && key;
  if (!ok) return std::nullopt;
  m.cert_bytes = std::move(*cert);
  m.key_bytes = std::move(*key);
  return m;
}

}  // namespace scoregate::tls
