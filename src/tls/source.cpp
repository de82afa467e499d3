// resolve_source(): from settings to certificate bytes. PEM file paths are
// configuration-protected, so messages name the setting and never the path.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

#include "tls/certificate.hpp"
#include "tls/file_io.hpp"
#include "tls/secret.hpp"

namespace scoregate::tls {

namespace {

constexpr const char* kCreateSecretFix =
    "create it: kubectl create secret generic NAME -n azureml --from-file=cert.pem "
    "--from-file=key.pem (or scoregate secret create --name NAME --cert cert.pem --key key.pem)";

std::string with_name(std::string text, const std::string& name) {
  for (auto at = text.find("NAME"); at != std::string::npos;
       at = text.find("NAME", at + name.size()))
    text.replace(at, 4, name);
  return text;
}

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
  for (const auto* path : {&ext.ssl_cert_pem_file, &ext.ssl_key_pem_file}) {
    if (path->empty()) continue;
    std::string dir = parent_directory(*path);
    if (std::find(m.watch_dirs.begin(), m.watch_dirs.end(), dir) == m.watch_dirs.end())
      m.watch_dirs.push_back(dir);
  }
  if (!ok) return std::nullopt;
  return m;
}

// <dir>/cert.pem and <dir>/key.pem, often symlinks through the kubelet's ..data link.
bool read_secret_file(const std::string& dir, const std::string& name, const char* file,
                      std::string& bytes, Problems& problems) {
  std::string label = "sslSecret '" + name + "' " + file;
  FileRead r = read_small_file(dir + "/" + file);
  if (r.bytes) {
    bytes = std::move(*r.bytes);
    return true;
  }
  if (r.missing) {
    bool tls_type = exists(dir + "/tls.crt");
    problems.error(
        "SECRET_KEY_MISSING", label,
        "the Secret has no " + std::string(file) + " (looked for " + dir + "/" + file + ")",
        tls_type ? with_name("it holds tls.crt/tls.key (type kubernetes.io/tls); scoregate "
                             "reads cert.pem and key.pem as the AzureML extension does: ",
                             name) +
                       with_name(kCreateSecretFix, name)
                 : with_name(kCreateSecretFix, name));
  } else {
    const char* code =
        std::string_view(file) == "cert.pem" ? "CERT_FILE_UNREADABLE" : "KEY_FILE_UNREADABLE";
    problems.error(code, label, "cannot read " + dir + "/" + file + " (" + r.reason + ")",
                   "check that scoregate's user may read the Secret's files");
  }
  return false;
}

std::optional<Material> from_secret_directory(const std::string& dir, const std::string& name,
                                              Problems& problems) {
  Material m;
  m.cert_label = "sslSecret '" + name + "' cert.pem";
  m.key_label = "sslSecret '" + name + "' key.pem";
  // The directory itself: the kubelet swaps the ..data symlink inside it on every update.
  m.watch_dirs.push_back(dir);
  bool ok = read_secret_file(dir, name, "cert.pem", m.cert_bytes, problems);
  ok = read_secret_file(dir, name, "key.pem", m.key_bytes, problems) && ok;
  if (!ok) return std::nullopt;
  return m;
}

std::optional<Material> from_manifest(const std::string& path, const std::string& secrets_dir,
                                      const std::string& name, Problems& problems) {
  FileRead r = read_small_file(path);
  if (!r.bytes) {
    problems.error("SECRET_MANIFEST_INVALID", path,
                   "cannot read the Secret manifest (" + r.reason + ")",
                   "check that scoregate's user may read it");
    return std::nullopt;
  }
  auto m = parse_secret_manifest(*r.bytes, path, name, problems);
  if (m) m->watch_dirs.push_back(secrets_dir);
  return m;
}

}  // namespace

std::optional<Material> read_secret(const std::string& name, const std::string& secrets_dir,
                                    const std::string& volume_root, Problems& problems) {
  if (!valid_secret_name(name)) {
    problems.error("SECRET_NAME_INVALID", "sslSecret",
                   "'" + name + "' is not a Kubernetes Secret name",
                   "use lowercase letters, digits, '-' and '.', starting and ending with a letter "
                   "or digit (e.g. scoring-tls)");
    return std::nullopt;
  }
  if (secrets_dir.empty()) {
    std::string dir = volume_root + "/" + name;
    if (is_directory(dir)) return from_secret_directory(dir, name, problems);
    problems.error("SECRET_NOT_FOUND", "sslSecret",
                   "the Secret '" + name + "' is not mounted: looked in " + dir + "/",
                   "in Kubernetes, mount the Secret (namespace azureml) at " + dir +
                       " (scoregate k8s render does); outside Kubernetes, pass --secrets-dir DIR "
                       "holding " +
                       name + "/cert.pem and key.pem, or " + name + ".yaml; " +
                       with_name(kCreateSecretFix, name));
    return std::nullopt;
  }
  std::string dir = secrets_dir + "/" + name;
  if (is_directory(dir)) return from_secret_directory(dir, name, problems);
  for (const char* ext : {".yaml", ".yml"})
    if (exists(dir + ext)) return from_manifest(dir + ext, secrets_dir, name, problems);
  problems.error("SECRET_NOT_FOUND", "sslSecret",
                 "the Secret '" + name + "' was not found: looked for " + dir +
                     "/ (cert.pem, key.pem), " + dir + ".yaml and " + dir + ".yml" +
                     (is_directory(secrets_dir) ? "" : " (the secrets directory does not exist)"),
                 "put " + name + "/cert.pem and key.pem, or a Secret manifest " + name +
                     ".yaml, in the secrets directory (kubectl get secret " + name +
                     " -n azureml -o yaml > " + name + ".yaml)");
  return std::nullopt;
}

std::optional<Material> resolve_source(const settings::Config& config, Problems& problems) {
  const auto& ext = config.extension;
  if (!ext.ssl_cert_pem_file.empty() || !ext.ssl_key_pem_file.empty())
    return from_pem_files(ext, problems);
  if (!ext.ssl_secret.empty())
    return read_secret(ext.ssl_secret, config.router.secrets_dir, kSecretVolumeRoot, problems);
  problems.error("TLS_NO_SOURCE", "", "TLS is on but no certificate is configured",
                 "set sslSecret, or both sslCertPemFile and sslKeyPemFile (or "
                 "allowInsecureConnections=True for plain HTTP)");
  return std::nullopt;
}

}  // namespace scoregate::tls
