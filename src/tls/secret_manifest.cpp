// A Kubernetes Secret manifest (`kubectl get secret NAME -n azureml -o yaml`) as a
// certificate source outside the cluster.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/secure.hpp"
#include "tls/secret.hpp"

namespace scoregate::tls {

std::string shown_secret_field(std::string_view text, bool quote) {
  const bool plain = !text.empty() && text.size() <= 253 &&
                     std::all_of(text.begin(), text.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '.' || c == '-' || c == '_';
                     });
  if (!plain) return "(a value that is not a name: not shown)";
  return quote ? "'" + std::string(text) + "'" : std::string(text);
}

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
                   kind.empty() ? "has no 'kind: Secret'"
                                : "kind is " + shown_secret_field(kind) + ", not Secret",
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
                                       : "metadata.name is " + shown_secret_field(meta_name) +
                                             " but sslSecret is '" + name.name + "'",
                   "set metadata.name to " + name.in_command() +
                       " (the file name and sslSecret must match it)");
    ok = false;
  }
  std::string ns = meta && meta.IsMap() ? scalar_or_empty(meta["namespace"]) : std::string();
  if (!ns.empty() && ns != "azureml") {
    problems.error("SECRET_NAMESPACE", at_line(where, meta["namespace"]),
                   "the Secret " + name.quoted() + " is in namespace " + shown_secret_field(ns) +
                       "; scoregate, like the AzureML extension, reads Secrets from azureml",
                   "re-create it in azureml: " + secret_create_commands(name));
    ok = false;
  }
  return ok;
}

// The keys of data: and stringData:; stringData wins, as when Kubernetes stores the object.
class ManifestKeys final : public SecretKeys {
 public:
  ManifestKeys(const YAML::Node& root, const std::string& where)
      : data_(map_or_null(root["data"])),
        string_data_(map_or_null(root["stringData"])),
        where_(where) {}
  bool has(const std::string& key) const override {
    return (string_data_ && string_data_[key]) || (data_ && data_[key]);
  }
  std::optional<std::string> read(const std::string& key, const std::string&, const char*,
                                  Problems& problems) const override {
    if (string_data_ && string_data_[key]) return scalar_or_empty(string_data_[key]);
    const YAML::Node value = data_[key];
    auto decoded = base64_decode(scalar_or_empty(value));
    if (value.IsScalar() && decoded) return decoded;
    problems.error("SECRET_MANIFEST_INVALID", at_line(where_, value),
                   "data." + key + " is not valid base64",
                   "put base64 of the PEM file under data (base64 -w0 " + key +
                       "), or the PEM text itself under stringData");
    return std::nullopt;
  }
  std::vector<std::string> names() const override {
    std::set<std::string> out;
    for (const YAML::Node* map : {&data_, &string_data_})
      if (*map)
        for (const auto& entry : *map) out.insert(scalar_or_empty(entry.first));
    return {out.begin(), out.end()};
  }
  std::string shown(const std::string& key) const override {
    return key.empty() ? where_ : "data." + key + " and stringData." + key + " of " + where_;
  }

 private:
  static YAML::Node map_or_null(const YAML::Node& node) {
    return node && node.IsMap() ? node : YAML::Node();
  }
  YAML::Node data_, string_data_;
  std::string where_;
};

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
  try {
    bool ok = check_header(root, where, name, problems);
    auto m = material_from_keys(ManifestKeys(root, where), name, problems);
    if (!ok || !m) return std::nullopt;
    return m;
  } catch (const YAML::Exception& e) {
    problems.error("SECRET_MANIFEST_INVALID", where,
                   "has an unexpected structure (" + e.msg.substr(0, e.msg.find(':')) + ")",
                   "export it: kubectl get secret " + name.in_command() + " -n azureml -o yaml");
    return std::nullopt;
  }
}

}  // namespace scoregate::tls
