// resolve_source(): from settings to certificate bytes. PEM file paths are
// configuration-protected, so messages name the setting and never the path.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "tls/certificate.hpp"
#include "tls/file_io.hpp"
#include "tls/secret.hpp"

namespace scoregate::tls {

namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Kubernetes object names are DNS-1123 subdomains; checking also keeps "../x" out of paths.
bool valid_secret_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  if (!std::isalnum(static_cast<unsigned char>(name.front())) ||
      !std::isalnum(static_cast<unsigned char>(name.back())))
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok || (c == '.' && (name[i + 1] == '.' || name[i + 1] == '-' || name[i - 1] == '-')))
      return false;
  }
  return true;
}

// One protected setting: on failure, say which setting and why, never the path.
bool read_protected(const std::string& path, const char* setting, const char* code,
                    std::string& bytes, Problems& problems) {
  if (path.empty()) {
    problems.error(code, setting, "is not set, but its partner setting is",
                   "set both sslCertPemFile and sslKeyPemFile, or use sslSecret instead");
    return false;
  }
  FileRead r = read_small_file(path);
  if (!r.bytes) {
    problems.error(code, setting, "cannot read the file it names (" + r.reason + ")",
                   std::string("check the path in ") + setting +
                       " (not shown: it is configuration-protected) and that scoregate's user "
                       "may read that file");
    return false;
  }
  bytes = std::move(*r.bytes);
  return true;
}

std::optional<Material> from_pem_files(const settings::ExtensionSettings& ext, Problems& problems) {
  Material m;
  m.cert_label = "sslCertPemFile";
  m.key_label = "sslKeyPemFile";
  bool ok = read_protected(ext.ssl_cert_pem_file, "sslCertPemFile", "CERT_FILE_UNREADABLE",
                           m.cert_bytes, problems);
  ok = read_protected(ext.ssl_key_pem_file, "sslKeyPemFile", "KEY_FILE_UNREADABLE", m.key_bytes,
                      problems) &&
       ok;
  if (!ok) return std::nullopt;
  // The paths are protected: messages name the setting, never the directory.
  m.watch.push_back(watch_file(ext.ssl_cert_pem_file, "the directory of sslCertPemFile"));
  m.watch.push_back(watch_file(ext.ssl_key_pem_file, "the directory of sslKeyPemFile"));
  return m;
}

// A path under a directory named after the Secret, as messages show it (the name replaced
// when it is protected).
struct SecretPlace {
  const SecretName& secret;
  std::string parent;  // the secrets directory or the volume root
  std::string dir() const { return parent + "/" + secret.name; }
  // The directory is named after the Secret: not printed when sslSecret is protected.
  WatchTarget watch(const std::string& directory) const {
    return {directory, {}, secret.is_protected ? "the sslSecret directory" : ""};
  }
  std::string shown(const std::string& suffix = "") const {
    return parent + "/" + (secret.is_protected ? "(protected)" : secret.name) + suffix;
  }
};

// The files of a Secret directory, often symlinks through the kubelet's ..data link.
class DirectoryKeys final : public SecretKeys {
 public:
  explicit DirectoryKeys(const SecretPlace& at) : at_(at) {}
  bool has(const std::string& key) const override { return exists(at_.dir() + "/" + key); }
  std::optional<std::string> read(const std::string& key, const std::string& label,
                                  const char* unreadable_code, Problems& problems) const override {
    FileRead r = read_small_file(at_.dir() + "/" + key);
    if (r.bytes) return std::move(r.bytes);
    problems.error(unreadable_code, label, "cannot read " + shown(key) + " (" + r.reason + ")",
                   "check that scoregate's user may read the Secret's files");
    return std::nullopt;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(at_.dir(), ec)) {
      std::string name = entry.path().filename().string();
      if (name.empty() || name[0] == '.') continue;  // the kubelet's ..data and ..<timestamp>
      out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string shown(const std::string& key) const override { return at_.shown("/") + key; }

 private:
  const SecretPlace& at_;
};

std::optional<Material> from_secret_directory(const SecretPlace& at, Problems& problems) {
  auto m = material_from_keys(DirectoryKeys(at), at.secret, problems);
  // The directory itself: the kubelet swaps the ..data symlink inside it on every update.
  if (m) m->watch.push_back(at.watch(at.dir()));
  return m;
}

std::optional<Material> from_manifest(const SecretPlace& at, const char* ext, Problems& problems) {
  FileRead r = read_small_file(at.dir() + ext);
  const std::string where = at.shown(ext);
  if (!r.bytes) {
    problems.error("SECRET_MANIFEST_INVALID", where,
                   "cannot read the Secret manifest (" + r.reason + ")",
                   "check that scoregate's user may read it");
    return std::nullopt;
  }
  auto m = parse_secret_manifest(*r.bytes, where, at.secret, problems);
  if (m) m->watch.push_back(at.watch(at.parent));
  return m;
}

std::optional<Material> no_source(Problems& problems) {
  problems.error("TLS_NO_SOURCE", "", "TLS is on but no certificate is configured",
                 "set sslSecret, or both sslCertPemFile and sslKeyPemFile (or "
                 "allowInsecureConnections=True for plain HTTP)");
  return std::nullopt;
}

}  // namespace

std::optional<Material> read_secret(const SecretName& secret, const std::string& secrets_dir,
                                    const std::string& volume_root, Problems& problems) {
  const std::string& name = secret.name;
  const std::string cmd_name = secret.in_command();
  if (!valid_secret_name(name)) {
    problems.error("SECRET_NAME_INVALID", "sslSecret",
                   secret.quoted() + " is not a Kubernetes Secret name",
                   "use lowercase letters, digits, '-' and '.', starting and ending with a letter "
                   "or digit (e.g. scoring-tls)");
    return std::nullopt;
  }
  if (secrets_dir.empty()) {
    SecretPlace at{secret, volume_root};
    if (is_directory(at.dir())) return from_secret_directory(at, problems);
    problems.error("SECRET_NOT_FOUND", "sslSecret",
                   "the Secret " + secret.quoted() + " is not mounted: looked in " + at.shown("/"),
                   "in Kubernetes, mount the Secret (namespace azureml) at " + at.shown() +
                       " (scoregate k8s render does); outside Kubernetes, pass --secrets-dir DIR "
                       "holding " +
                       cmd_name + "/cert.pem and key.pem (or tls.crt and tls.key), or " + cmd_name +
                       ".yaml; " + "create it: " + secret_create_commands(secret));
    return std::nullopt;
  }
  SecretPlace at{secret, secrets_dir};
  if (is_directory(at.dir())) return from_secret_directory(at, problems);
  for (const char* ext : {".yaml", ".yml"})
    if (exists(at.dir() + ext)) return from_manifest(at, ext, problems);
  problems.error("SECRET_NOT_FOUND", "sslSecret",
                 "the Secret " + secret.quoted() + " was not found: looked for " + at.shown("/") +
                     " (cert.pem and key.pem, or tls.crt and tls.key), " + at.shown(".yaml") +
                     " and " + at.shown(".yml") +
                     (is_directory(secrets_dir) ? "" : " (the secrets directory does not exist)"),
                 "put " + cmd_name +
                     "/cert.pem and key.pem (or tls.crt and tls.key), or a Secret manifest " +
                     cmd_name + ".yaml, in the secrets directory (kubectl get secret " + cmd_name +
                     " -n azureml -o yaml > " + cmd_name + ".yaml)");
  return std::nullopt;
}

std::optional<Material> resolve_source(const settings::Config& config, Problems& problems) {
  const auto& ext = config.extension;
  std::optional<Material> m;
  if (!ext.ssl_cert_pem_file.empty() || !ext.ssl_key_pem_file.empty())
    m = from_pem_files(ext, problems);
  else if (!ext.ssl_secret.empty())
    m = read_secret(SecretName{ext.ssl_secret, config.is_protected("sslSecret")},
                    config.router.secrets_dir, kSecretVolumeRoot, problems);
  else
    return no_source(problems);
  if (!m) return m;
  m->names_protected = config.is_protected("sslCname");
  // Its keys are reloaded with the certificate (runtime/build.cpp), so its changes count too.
  if (const auto& f = config.router.session_ticket_key_file; !f.empty())
    m->watch.push_back(watch_file(f));
  return m;
}

}  // namespace scoregate::tls
