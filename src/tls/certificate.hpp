// Certificate material: resolving the configured source (PEM files or sslSecret), parsing it
// once, and checking it (ARCHITECTURE.md "Certificates: sources, checks, watch and renewal"; every
// problem has a stable code). Sans-IO apart from resolve_source(), which reads files.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "settings/config.hpp"
#include "tls/watch_target.hpp"

namespace scoregate::tls {

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// Where certificate bytes came from; `label` names the setting, never a protected value
// (e.g. "sslCertPemFile", "sslSecret 'scoring-tls' cert.pem").
struct Material {
  std::string cert_bytes, key_bytes;
  std::string cert_label, key_label;
  // The Secret's ca.crt (or ca.pem): trust anchors for the chain checks, as
  // router.trusted_ca_file is (README "Certificates from a Kubernetes Secret"). Empty when the
  // source has none.
  std::string ca_bytes;
  std::string ca_label;  // e.g. "sslSecret 'scoring-tls' ca.crt"
  // What to watch so that a renewal is picked up (tls/watcher): the directories of the PEM
  // files, the Secret's directory, or the secrets directory holding its manifest; and the
  // directory of router.session_ticket_key_file, whose keys are reloaded with the certificate.
  // The one place that decides it: runtime only hands this list to the watcher.
  std::vector<WatchTarget> watch;
  // sslCname was given as a protected setting (resolve_source() copies this from the config):
  // the checks then name the setting in their messages, never the names it holds.
  bool names_protected = false;
};

// Reads the certificate source that `config` names: the PEM files, or the sslSecret from
// /etc/scoregate/secrets/<name>/ (kubelet layout), or from router.secrets_dir (<name>/ or
// <name>.yaml|.yml Secret manifest, namespace azureml). A Secret holds cert.pem/key.pem or
// tls.crt/tls.key (kubernetes.io/tls), optionally ca.crt (or ca.pem).
// Problems: SECRET_*, *_FILE_UNREADABLE, CERT_CA_FILE_INVALID.
std::optional<Material> resolve_source(const settings::Config& config, Problems& problems);

struct CertificateSummary {
  std::string subject, issuer;
  std::vector<std::string> dns_names, ip_addresses;
  std::time_t not_before = 0, not_after = 0;
  std::string fingerprint_sha256;  // of the leaf's DER
  std::string key_description;     // "ECDSA P-256", "RSA 2048", "Ed25519"
  std::string signature_algorithm;
  std::vector<std::string> chain_subjects;  // leaf first, as in the file
};

struct CheckOptions {
  // settings::cname_list() of sslCname or --cname (trimmed, no empty or repeated names);
  // empty = no name check.
  std::vector<std::string> names;
  std::string trusted_ca_file;  // extra roots for private PKI; "" = system store only
  std::time_t now = 0;          // 0 = time(nullptr)
  int expiry_warning_days = 30;
  bool development = false;  // dev mode: an untrusted dev CA is expected (still a warning)
};

// A parsed, checked certificate chain and key, ready to become an SSL_CTX.
struct CheckedCertificate {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;  // intermediates (and any root) in the order to send them
  PkeyPtr key;
  CertificateSummary summary;
};

// Parses and checks; every problem found is added to `problems`. Returns the certificate
// when nothing prevents serving it (warnings allowed).
std::optional<CheckedCertificate> check_certificate(const Material& material,
                                                    const CheckOptions& options,
                                                    Problems& problems);
// The same, also describing the leaf in *summary_out whenever one could be parsed, even when
// errors prevent serving it (for `cert check` output).
std::optional<CheckedCertificate> check_certificate(const Material& material,
                                                    const CheckOptions& options, Problems& problems,
                                                    CertificateSummary* summary_out);

// PEM text of a checked certificate: the leaf then its chain as served, and the private key
// (unencrypted PKCS#8). For writing DER input out as PEM (scoregate secret create).
std::string chain_pem(const CheckedCertificate& certificate);
std::string key_pem(const CheckedCertificate& certificate);

// The certificates of a CA file (--ca-file, PEM or DER) re-encoded as PEM, for a Secret's
// ca.crt: only certificates, so a private key that slipped into the file is never copied.
// "" when the file cannot be read or holds no certificate (the checks report why).
std::string ca_file_pem(const std::string& path);

}  // namespace scoregate::tls
