// Reading an sslSecret: a mounted Secret volume (kubelet layout), a <name>/ directory or a
// <name>.yaml Secret manifest. Internal to tls/ (resolve_source() is the public entry point);
// declared here so tests can point the volume root at a temporary directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

// secrets_dir "" means the volume under volume_root. SECRET_* problems, *_FILE_UNREADABLE.
std::optional<Material> read_secret(const SecretName& name, const std::string& secrets_dir,
                                    const std::string& volume_root, Problems& problems);
inline std::optional<Material> read_secret(const std::string& name, const std::string& secrets_dir,
                                           const std::string& volume_root, Problems& problems) {
  return read_secret(SecretName{name}, secrets_dir, volume_root, problems);
}

// A Secret manifest already in memory; `where` names the file in messages.
// SECRET_MANIFEST_INVALID, SECRET_NAMESPACE, SECRET_KEY_MISSING.
std::optional<Material> parse_secret_manifest(std::string_view yaml, const std::string& where,
                                              const SecretName& name, Problems& problems);
inline std::optional<Material> parse_secret_manifest(std::string_view yaml,
                                                     const std::string& where,
                                                     const std::string& name, Problems& problems) {
  return parse_secret_manifest(yaml, where, SecretName{name}, problems);
}

}  // namespace scoregate::tls
