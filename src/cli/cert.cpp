// `scoregate cert check`, `cert dev`, `secret create`, `settings show`.
#include <ctime>
#include <iostream>
#include <regex>

#include "cli/commands.hpp"
#include "core/secure.hpp"
#include "core/time.hpp"
#include "settings/settings.hpp"
#include "tls/certificate.hpp"
#include "tls/devcert.hpp"

namespace scoregate::cli {

namespace {

void print_summary(const tls::CertificateSummary& s) {
  std::cout << "certificate\n"
            << "  subject:     " << s.subject << "\n"
            << "  issuer:      " << s.issuer << "\n";
  std::cout << "  names:      ";
  for (const auto& n : s.dns_names) std::cout << " " << n;
  for (const auto& n : s.ip_addresses) std::cout << " " << n;
  if (s.dns_names.empty() && s.ip_addresses.empty()) std::cout << " (no subjectAltName)";
  std::cout << "\n"
            << "  key:         " << s.key_description << "\n"
            << "  signature:   " << s.signature_algorithm << "\n"
            << "  valid:       " << iso8601_utc(s.not_before) << " to " << iso8601_utc(s.not_after)
            << "\n"
            << "  SHA-256:     " << s.fingerprint_sha256 << "\n"
            << "  chain (as in the file):\n";
  for (std::size_t i = 0; i < s.chain_subjects.size(); ++i)
    std::cout << "    [" << i << "] " << s.chain_subjects[i] << "\n";
}

// Loads and checks like serve does. The summary is printed whenever a certificate could be
// parsed, errors or not: it is what someone fixing those errors needs to see.
struct Loaded {
  std::optional<tls::Material> material;
  std::optional<tls::CheckedCertificate> certificate;  // set when nothing is an error
};

Loaded load_checked(const settings::Config& config, const tls::CheckOptions& options,
                    bool print_summary_too, Problems& problems) {
  Loaded out;
  out.material = tls::resolve_source(config, problems);
  if (!out.material) return out;
  tls::CertificateSummary summary;
  out.certificate = tls::check_certificate(*out.material, options, problems, &summary);
  if (print_summary_too && !summary.fingerprint_sha256.empty()) print_summary(summary);
  if (problems.has_errors()) out.certificate.reset();
  return out;
}

}  // namespace

int cert_check(const CertCheckArgs& a) {
  settings::Config config;
  if (!a.secret.empty()) {
    if (!a.cert.empty() || !a.key.empty()) {
      std::cerr << "scoregate cert check: give either --secret or --cert and --key, not both\n";
      return 2;
    }
    config.extension.ssl_secret = a.secret;
    config.router.secrets_dir = a.secrets_dir;
  } else {
    if (!a.secrets_dir.empty()) {
      std::cerr << "scoregate cert check: --secrets-dir goes with --secret NAME\n";
      return 2;
    }
    if (a.cert.empty() || a.key.empty()) {
      std::cerr << "scoregate cert check: --cert and --key are required (or --secret NAME)\n";
      return 2;
    }
    config.extension.ssl_cert_pem_file = a.cert;
    config.extension.ssl_key_pem_file = a.key;
  }
  tls::CheckOptions options;
  options.names = settings::cname_list(a.cname);
  options.trusted_ca_file = a.ca_file;
  Problems problems;
  bool ok = load_checked(config, options, true, problems).certificate.has_value();
  if (problems.empty()) {
    std::cout << "no problems found\n";
  } else {
    std::cout << "problems\n";
    for (const auto& p : problems.items()) std::cout << "  " << format_problem(p) << "\n";
  }
  return ok ? 0 : 1;
}

int cert_dev(const std::string& cnames, const std::string& out_dir) {
  auto names = settings::cname_list(cnames);
  if (names.empty()) {
    std::cerr << "scoregate cert dev: --cname needs at least one name\n";
    return 2;
  }
  auto m = tls::ensure_dev_material(out_dir, names);
  std::cout
      << (m.created ? "created" : "reused") << " development certificate\n"
      << "  CA (give to clients, e.g. curl --cacert): " << m.ca_cert_path << "\n"
      << "  certificate chain (sslCertPemFile):      " << m.cert_path << "\n"
      << "  private key (sslKeyPemFile):             " << m.key_path << "\n"
      << "warning: signed by a local development CA: for development only, never production\n";
  return 0;
}

int secret_create(const SecretCreateArgs& a) {
  static const std::regex dns1123(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  if (!std::regex_match(a.name, dns1123) || a.name.size() > 253) {
    std::cerr << "scoregate secret create: '" << a.name
              << "' is not a valid Kubernetes name (lowercase letters, digits, '-' and '.')\n";
    return 2;
  }
  static const std::regex dns1123_label("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  if (!std::regex_match(a.namespace_, dns1123_label) || a.namespace_.size() > 63) {
    std::cerr << "scoregate secret create: '" << a.namespace_
              << "' is not a valid Kubernetes namespace (lowercase letters, digits and '-')\n";
    return 2;
  }
  settings::Config config;
  config.extension.ssl_cert_pem_file = a.cert;
  config.extension.ssl_key_pem_file = a.key;
  tls::CheckOptions options;
  options.names = settings::cname_list(a.cname);
  options.trusted_ca_file = a.ca_file;
  Problems problems;
  auto loaded = load_checked(config, options, false, problems);
  for (const auto& p : problems.items()) std::cerr << format_problem(p) << "\n";
  if (!loaded.certificate) {
    std::cerr << "scoregate secret create: no manifest written; fix the problems above\n";
    return 1;
  }
  // Consumers of the Secret (the extension, kubectl users) expect PEM under those names:
  // DER input, accepted by the checks, is written out as PEM. PEM input is kept byte for byte.
  std::string cert_bytes =
      problems.has("CERT_DER") ? tls::chain_pem(*loaded.certificate) : loaded.material->cert_bytes;
  std::string key_bytes =
      problems.has("KEY_DER") ? tls::key_pem(*loaded.certificate) : loaded.material->key_bytes;
  if (problems.has("CERT_DER") || problems.has("KEY_DER"))
    std::cerr << "note: DER input is written to the Secret as PEM\n";
  if (a.namespace_ != "azureml")
    std::cerr << "warning: the Azure ML extension reads sslSecret from namespace azureml, not '"
              << a.namespace_ << "'\n";
  // The private root goes along as ca.crt: the pod's checks then trust it as the check here
  // did (README "Certificates from a Kubernetes Secret"). Certificates only, re-encoded as PEM.
  const std::string ca_bytes = a.ca_file.empty() ? std::string() : tls::ca_file_pem(a.ca_file);
  std::cout << "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " << a.name
            << "\n  namespace: " << a.namespace_ << "\ntype: Opaque\ndata:\n"
            << "  cert.pem: " << base64_encode(cert_bytes) << "\n"
            << "  key.pem: " << base64_encode(key_bytes) << "\n";
  if (!ca_bytes.empty()) std::cout << "  ca.crt: " << base64_encode(ca_bytes) << "\n";
  return 0;
}

int settings_show(const settings::CommandLine& cl) {
  auto loaded = settings::load(cl);
  auto validated = settings::validate(loaded.config, settings::Purpose::show);
  // The effective settings are the validated ones when there are any: validate() normalises
  // (service type spelling, target ports, the implicit 100% traffic of a single deployment).
  std::cout << settings::show(validated.settings && !loaded.problems.has_errors()
                                  ? validated.settings->config()
                                  : loaded.config);
  Problems all = loaded.problems;
  all.append(validated.problems);
  if (!all.empty()) std::cerr << all.to_string();
  return all.has_errors() ? 1 : 0;
}

}  // namespace scoregate::cli
