// Reading an sslSecret: a mounted Secret volume (kubelet layout), a <name>/ directory or a
// <name>.yaml Secret manifest. Internal to tls/ (resolve_source() is the public entry point);
// declared here so tests can point the volume root at a temporary directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "tls/certificate.hpp"

namespace scoregate::tls {

// Where Kubernetes mounts the Secret volume (scoregate k8s render uses the same path).
inline constexpr const char* kSecretVolumeRoot = "/etc/scoregate/secrets";

// The Secret's name, and how messages show it: sslSecret given as a protected setting
// (protected: / --config-protected) is never printed, so neither is any path containing it.
struct SecretName {
  std::string name;
  bool is_protected = false;
  // In messages: "'scoring-tls'", or "(protected)".
  std::string quoted() const { return is_protected ? "(protected)" : "'" + name + "'"; }
  // In commands users copy (kubectl ...): the name, or the placeholder NAME.
  std::string in_command() const { return is_protected ? "NAME" : name; }
  // "sslSecret 'scoring-tls'" or "sslSecret (protected)".
  std::string label() const { return "sslSecret " + quoted(); }
};

// The keys of one Secret, however they are stored: files of a directory (the kubelet's volume
// or a --secrets-dir directory) or the data:/stringData: of a manifest.
class SecretKeys {
 public:
  virtual ~SecretKeys() = default;
  virtual bool has(const std::string& key) const = 0;
  // The bytes of `key`; nullopt, with a problem about `label`, when it cannot be read.
  // `unreadable_code` is the code a file that exists but cannot be read gets.
  virtual std::optional<std::string> read(const std::string& key, const std::string& label,
                                          const char* unreadable_code,
                                          Problems& problems) const = 0;
  virtual std::vector<std::string> names() const = 0;  // the keys there are, sorted
  // Where `key` was looked for, as messages show it ("" = the Secret itself).
  virtual std::string shown(const std::string& key) const = 0;
};

// The two pairs of keys a Secret may hold (README "Certificates from a Kubernetes Secret").
struct SecretLayout {
  const char* cert;
  const char* key;
};
inline constexpr SecretLayout kAzureMlLayout{"cert.pem", "key.pem"};
inline constexpr SecretLayout kTlsLayout{"tls.crt", "tls.key"};  // type kubernetes.io/tls

// Which pair to read, given the keys present: a complete cert.pem/key.pem pair wins, then a
// complete tls.crt/tls.key pair; otherwise the pair of which one key is present (so the
// missing one is named). nullopt when the Secret holds none of the four.
std::optional<SecretLayout> choose_layout(const SecretKeys& keys);

// The certificate, key and CA (ca.crt, else ca.pem; optional) of a Secret in either layout.
// SECRET_KEY_MISSING, SECRET_TWO_LAYOUTS (warning), and the problems of keys.read().
std::optional<Material> material_from_keys(const SecretKeys& keys, const SecretName& name,
                                           Problems& problems);

// How to create the Secret, for fixes: kubectl in both layouts, and scoregate secret create.
std::string secret_create_commands(const SecretName& name);

// secrets_dir "" means the volume under volume_root. SECRET_* problems, *_FILE_UNREADABLE.
std::optional<Material> read_secret(const SecretName& name, const std::string& secrets_dir,
                                    const std::string& volume_root, Problems& problems);
inline std::optional<Material> read_secret(const std::string& name, const std::string& secrets_dir,
                                           const std::string& volume_root, Problems& problems) {
  return read_secret(SecretName{name}, secrets_dir, volume_root, problems);
}

// A Secret manifest already in memory; `where` names the file in messages.
// SECRET_MANIFEST_INVALID, SECRET_NAMESPACE, and those of material_from_keys().
// A name read from a Secret (metadata.name, namespace, kind, a data key) as messages may show
// it: quoted when it is made of the characters such names allow ([A-Za-z0-9._-], at most 253),
// else a placeholder. A malformed manifest can pour anything into such a field, a key's bytes
// included (found by fuzz_secret_manifest), and no message may carry those.
std::string shown_secret_field(std::string_view text, bool quote = true);

std::optional<Material> parse_secret_manifest(std::string_view yaml, const std::string& where,
                                              const SecretName& name, Problems& problems);
inline std::optional<Material> parse_secret_manifest(std::string_view yaml,
                                                     const std::string& where,
                                                     const std::string& name, Problems& problems) {
  return parse_secret_manifest(yaml, where, SecretName{name}, problems);
}

}  // namespace scoregate::tls
