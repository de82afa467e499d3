// A Kubernetes Secret manifest (`kubectl get secret NAME -n azureml -o yaml`) as a
// certificate source outside the cluster.
#include <yaml-cpp/yaml.h>

#include "core/secure.hpp"
#include "tls/secret.hpp"

namespace scoregate::tls {

namespace {

std::string at_line(const std::string& where, const YAML::Node& node) {
  return where + ":" + std::to_string(node.Mark().line + 1);
}

std::string scalar_or_empty(const YAML::Node& node) {
  return node && node.IsScalar() ? node.Scalar() : std::string();
}

bool check_header(const YAML::Node& root, const std::string& where, const SecretName& name,
                  Problems& problems) {
  bool ok = true;
  std::string kind = scalar_or_empty(root["kind"]);
  if (kind != "Secret") {
    problems.error("SECRET_MANIFEST_INVALID", where,
                   kind.empty() ? "has no 'kind: Secret'" : "kind is '" + kind + "', not Secret",
                   "use the manifest of a Secret: kubectl get secret " + name.in_command() +
                       " -n azureml -o yaml");
    ok = false;
  }
  const YAML::Node meta = root["metadata"];
  std::string meta_name = meta && meta.IsMap() ? scalar_or_empty(meta["name"]) : std::string();
  if (meta_name != name.name) {
    // A protected name is not shown, and neither is a metadata.name that differs from it.
    problems.error("SECRET_MANIFEST_INVALID", where,
                   meta_name.empty()   ? "has no metadata.name"
                   : name.is_protected ? "metadata.name differs from sslSecret"
                                       : "metadata.name is '" + meta_name + "' but sslSecret is '" +
                                             name.name + "'",
                   "set metadata.name to " + name.in_command() +
                       " (the file name and sslSecret must match it)");
    ok = false;
  }
  std::string ns = meta && meta.IsMap() ? scalar_or_empty(meta["namespace"]) : std::string();
  if (!ns.empty() && ns != "azureml") {
    problems.error("SECRET_NAMESPACE", at_line(where, meta["namespace"]),
                   "the Secret " + name.quoted() + " is in namespace '" + ns +
                       "'; scoregate, like the AzureML extension, reads Secrets from azureml",
                   "kubectl create secret generic " + name.in_command() +
                       " -n azureml --from-file=cert.pem --from-file=key.pem (or scoregate secret "
                       "create --name " +
                       name.in_command() + " --cert cert.pem --key key.pem)");
    ok = false;
  }
  return ok;
}

// stringData wins over data, as when Kubernetes stores the object.
bool read_entry(const YAML::Node& root, const std::string& where, const SecretName& name,
                const char* key, std::string& out, Problems& problems) {
  const YAML::Node string_data = root["stringData"];
  if (string_data && string_data.IsMap() && string_data[key]) {
    out = scalar_or_empty(string_data[key]);
    return true;
  }
  const YAML::Node data = root["data"];
  const YAML::Node value = data && data.IsMap() ? data[key] : YAML::Node();
  if (!value) {
    bool tls_type = data && data.IsMap() && data["tls.crt"];
    problems.error(
        "SECRET_KEY_MISSING", name.label() + " " + key,
        std::string("the Secret manifest ") + where + " has no data." + key,
        std::string(tls_type ? "it holds tls.crt/tls.key; scoregate reads cert.pem and "
                               "key.pem as the AzureML extension does: "
                             : "") +
            "kubectl create secret generic " + name.in_command() +
            " -n azureml --from-file=cert.pem --from-file=key.pem --dry-run=client -o yaml");
    return false;
  }
  auto decoded = base64_decode(scalar_or_empty(value));
  if (!value.IsScalar() || !decoded) {
    problems.error("SECRET_MANIFEST_INVALID", at_line(where, value),
                   std::string("data.") + key + " is not valid base64",
                   "put base64 of the PEM file under data (base64 -w0 " + std::string(key) +
                       "), or the PEM text itself under stringData");
    return false;
  }
  out = std::move(*decoded);
  return true;
}

}  // namespace

std::optional<Material> parse_secret_manifest(std::string_view yaml, const std::string& where,
                                              const SecretName& name, Problems& problems) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    problems.error(
        "SECRET_MANIFEST_INVALID", where + ":" + std::to_string(e.mark.line + 1),
        // yaml-cpp quotes a piece of the text in some messages: here that may be key material.
        "is not valid YAML (" + e.msg.substr(0, e.msg.find(':')) + ")",
        "fix the YAML, or export it again: kubectl get secret " + name.in_command() +
            " -n azureml -o yaml");
    return std::nullopt;
  }
  if (!root.IsMap()) {
    problems.error("SECRET_MANIFEST_INVALID", where,
                   "is not a Kubernetes Secret manifest (not a mapping)",
                   "export it: kubectl get secret " + name.in_command() + " -n azureml -o yaml");
    return std::nullopt;
  }
  Material m;
  m.cert_label = name.label() + " cert.pem";
  m.key_label = name.label() + " key.pem";
  try {
    bool ok = check_header(root, where, name, problems);
    ok = read_entry(root, where, name, "cert.pem", m.cert_bytes, problems) && ok;
    ok = read_entry(root, where, name, "key.pem", m.key_bytes, problems) && ok;
    if (!ok) return std::nullopt;
  } catch (const YAML::Exception& e) {
    problems.error("SECRET_MANIFEST_INVALID", where,
                   "has an unexpected structure (" + e.msg.substr(0, e.msg.find(':')) + ")",
                   "export it: kubectl get secret " + name.in_command() + " -n azureml -o yaml");
    return std::nullopt;
  }
  return m;
}

}  // namespace scoregate::tls
