// check_certificate(): parse once, then run every check that can run, so one `cert check`
// shows all that is wrong. Chain checks live in chain.cpp, format recognition in parse.cpp.
#include "tls/certificate.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/secure.hpp"
#include "tls/chain.hpp"
#include "tls/file_io.hpp"
#include "tls/openssl_util.hpp"
#include "tls/parse.hpp"

namespace scoregate::tls {

namespace {

constexpr long kDay = 86400;
constexpr const char* kNewKeyFix =
    "create a new key and certificate request (openssl req -new -newkey ec -pkeyopt "
    "ec_paramgen_curve:P-256 -nodes -keyout key.pem -out request.csr, or -newkey rsa:2048) and "
    "have your CA issue a new certificate";

struct Check {
  const Material& material;
  const CheckOptions& options;
  Problems& problems;
  std::time_t now;
  std::vector<X509Ptr> certs;
  PkeyPtr key;
  ChainLayout layout;

  X509* leaf() const { return certs[layout.leaf].get(); }
  const std::string& cert_label() const { return material.cert_label; }
  // The certificates whose own properties matter to clients: the leaf and the intermediates
  // (a root's self-signature and dates are the trust store's business).
  std::vector<X509*> served() const {
    std::vector<X509*> out{leaf()};
    for (std::size_t i : layout.chain)
      if (!is_self_signed(certs[i].get())) out.push_back(certs[i].get());
    return out;
  }
  std::string which(X509* x) const {
    return (x == leaf() ? "the certificate '" : "intermediate '") + subject_of(x) + "'";
  }
};

bool key_matches(X509* cert, EVP_PKEY* key) {
  bool ok = X509_check_private_key(cert, key) == 1;
  ERR_clear_error();
  return ok;
}

// A file listed root-first still has a usable leaf: the certificate the key belongs to.
std::size_t find_leaf(const std::vector<X509Ptr>& certs, EVP_PKEY* key) {
  if (!key || key_matches(certs[0].get(), key)) return 0;
  for (std::size_t i = 1; i < certs.size(); ++i)
    if (key_matches(certs[i].get(), key)) return i;
  return 0;
}

void check_key_match(Check& c) {
  // Without a decodable public key in the certificate, CERT_KEY_UNSUPPORTED says enough.
  if (!c.key || !X509_get0_pubkey(c.leaf()) || key_matches(c.leaf(), c.key.get())) return;
  c.problems.error("KEY_MISMATCH", c.material.key_label,
                   "the private key does not belong to the certificate '" + subject_of(c.leaf()) +
                       "'" + (c.cert_label().empty() ? "" : " in " + c.cert_label()),
                   "use the key generated with this certificate's request (compare openssl x509 "
                   "-in cert.pem -noout -pubkey with openssl pkey -in key.pem -pubout)");
}

void check_validity(Check& c) {
  for (X509* x : c.served()) {
    std::time_t from = asn1_time_to_time_t(X509_get0_notBefore(x));
    std::time_t until = asn1_time_to_time_t(X509_get0_notAfter(x));
    if (until < c.now) {
      c.problems.error(
          "CERT_EXPIRED", c.cert_label(),
          c.which(x) + " expired on " + iso8601_utc(until) + " (now " + iso8601_utc(c.now) + ")",
          "renew it with your CA and replace the files; scoregate reloads them by itself");
    } else if (from > c.now) {
      c.problems.error(
          "CERT_NOT_YET_VALID", c.cert_label(),
          c.which(x) + " is valid only from " + iso8601_utc(from) + " (now " + iso8601_utc(c.now) +
              ")",
          "check this machine's clock (date -u; timedatectl), or wait until " + iso8601_utc(from));
    } else if (until - c.now < static_cast<std::time_t>(c.options.expiry_warning_days) * kDay) {
      c.problems.warning("CERT_EXPIRES_SOON", c.cert_label(),
                         c.which(x) + " expires on " + iso8601_utc(until) + ", in " +
                             std::to_string((until - c.now) / kDay) + " day(s)",
                         "renew it now and replace the files; scoregate reloads them by itself");
    }
  }
}

void check_names(Check& c) {
  const bool hidden = c.material.names_protected;
  for (std::size_t i = 0; i < c.options.names.size(); ++i) {
    const std::string& name = c.options.names[i];
    if (covers_name(c.leaf(), name)) continue;
    // A protected sslCname is named by its position, never by its value.
    std::string shown = hidden ? "name #" + std::to_string(i + 1) + " of sslCname (protected)"
                               : "'" + name + "' (sslCname)";
    c.problems.error(
        "CERT_NAME_MISMATCH", c.cert_label(),
        "the certificate does not cover " + shown + "; it covers: " + covered_names(c.leaf()),
        "get a certificate whose subjectAltName includes " + (hidden ? "that name" : name) +
            " (a wildcard covers exactly one label), or set sslCname to a name it covers");
  }
  auto sans = subject_alt_names(c.leaf());
  if (sans.dns.empty() && sans.ip.empty())
    c.problems.warning(
        "CERT_NO_SAN", c.cert_label(),
        "the certificate names its host only in the subject CN; Chrome, Go and "
        "other clients ignore the CN and will reject it",
        "reissue it with a subjectAltName extension (DNS:" +
            (c.options.names.empty() || hidden ? std::string("your.host") : c.options.names[0]) +
            ")");
}

// Whether OpenSSL can sign handshakes with this key type and clients accept it; NIST curves
// only, as TLS 1.3 defines ECDSA signatures for P-256/P-384/P-521 alone.
bool usable_key_type(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
      return true;
    case EVP_PKEY_EC: {
      char group[64] = {};
      EVP_PKEY_get_group_name(key, group, sizeof group, nullptr);
      int nid = OBJ_sn2nid(group);
      // Smaller curves are reported as KEY_WEAK instead.
      return nid == NID_X9_62_prime256v1 || nid == NID_secp384r1 || nid == NID_secp521r1 ||
             EVP_PKEY_get_bits(key) < 256;
    }
    default:
      return false;
  }
}

void check_key_type(Check& c) {
  EVP_PKEY* key = X509_get0_pubkey(c.leaf());
  ERR_clear_error();
  if (key && usable_key_type(key)) return;
  c.problems.error("CERT_KEY_UNSUPPORTED", c.cert_label(),
                   key ? "the certificate's key is " + key_description(key) +
                             ", which TLS clients cannot use for a server certificate"
                       : "the certificate's public key cannot be decoded (an unknown algorithm "
                         "or damaged)",
                   kNewKeyFix);
}

void check_key_strength(Check& c) {
  EVP_PKEY* key = X509_get0_pubkey(c.leaf());
  if (!key) return;  // CERT_KEY_UNSUPPORTED says it
  int bits = EVP_PKEY_get_bits(key);
  int type = EVP_PKEY_get_base_id(key);
  bool weak = ((type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS) && bits < 2048) ||
              (type == EVP_PKEY_EC && bits < 256);
  if (!weak) return;
  c.problems.error("KEY_WEAK", c.material.key_label,
                   "the certificate's key is " + key_description(key) +
                       "; at least RSA 2048 or ECDSA P-256 is required",
                   kNewKeyFix);
}

bool weak_digest(int md) {
  return md == NID_sha1 || md == NID_md5 || md == NID_md5_sha1 || md == NID_md4 || md == NID_md2;
}

void check_signatures(Check& c) {
  for (X509* x : c.served()) {
    int md = NID_undef;
    X509_get_signature_info(x, &md, nullptr, nullptr, nullptr);
    if (!weak_digest(md)) continue;
    c.problems.error(
        "CERT_WEAK_SIGNATURE", c.cert_label(),
        c.which(x) + " is signed with " + signature_algorithm(x) + ", which clients reject",
        "have your CA reissue it with a SHA-256 (or stronger) signature");
  }
  ERR_clear_error();
}

std::string extended_usages(uint32_t xku) {
  static const std::pair<uint32_t, const char*> kNames[] = {{XKU_SSL_CLIENT, "clientAuth"},
                                                            {XKU_SMIME, "emailProtection"},
                                                            {XKU_CODE_SIGN, "codeSigning"},
                                                            {XKU_OCSP_SIGN, "OCSPSigning"},
                                                            {XKU_TIMESTAMP, "timeStamping"}};
  std::string out;
  for (auto [bit, name] : kNames)
    if (xku & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  return out.empty() ? "no usage OpenSSL knows" : out;
}

void check_usage(Check& c) {
  X509* leaf = c.leaf();
  uint32_t flags = X509_get_extension_flags(leaf);
  const char* fix =
      "have your CA reissue it with extendedKeyUsage serverAuth and keyUsage digitalSignature";
  if (flags & EXFLAG_XKUSAGE) {
    uint32_t xku = X509_get_extended_key_usage(leaf);
    if (!(xku & (XKU_SSL_SERVER | XKU_ANYEKU)))
      c.problems.error("CERT_NOT_SERVER_AUTH", c.cert_label(),
                       "its extendedKeyUsage (" + extended_usages(xku) +
                           ") does not include serverAuth, so clients refuse it for a server",
                       fix);
  }
  if (flags & EXFLAG_KUSAGE) {
    uint32_t ku = X509_get_key_usage(leaf);
    EVP_PKEY* key = X509_get0_pubkey(leaf);
    int type = key ? EVP_PKEY_get_base_id(key) : EVP_PKEY_NONE;
    bool rsa = type == EVP_PKEY_RSA || type == EVP_PKEY_RSA_PSS;
    if (!(ku & KU_DIGITAL_SIGNATURE) && !(rsa && (ku & KU_KEY_ENCIPHERMENT)))
      c.problems.error("CERT_NOT_SERVER_AUTH", c.cert_label(),
                       "its keyUsage lacks digitalSignature, which a TLS server certificate needs",
                       fix);
  }
  ERR_clear_error();
}

CertificateSummary summarize(const Check& c) {
  CertificateSummary s;
  X509* leaf = c.leaf();
  s.subject = subject_of(leaf);
  s.issuer = name_rfc2253(X509_get_issuer_name(leaf));
  auto sans = subject_alt_names(leaf);
  s.dns_names = std::move(sans.dns);
  s.ip_addresses = std::move(sans.ip);
  s.not_before = asn1_time_to_time_t(X509_get0_notBefore(leaf));
  s.not_after = asn1_time_to_time_t(X509_get0_notAfter(leaf));
  s.fingerprint_sha256 = sha256_fingerprint(der_of(leaf));
  s.key_description = key_description(X509_get0_pubkey(leaf));
  s.signature_algorithm = signature_algorithm(leaf);
  for (const auto& x : c.certs) s.chain_subjects.push_back(subject_of(x.get()));
  return s;
}

void run_certificate_checks(Check& c) {
  c.layout = layout_chain(c.certs, find_leaf(c.certs, c.key.get()));
  check_key_match(c);
  check_key_type(c);
  check_chain_order(c.certs, c.layout, c.cert_label(), c.problems);
  check_chain_trust(c.certs, c.layout, c.options, c.material, c.problems);
  check_validity(c);
  check_names(c);
  check_key_strength(c);
  check_signatures(c);
  check_usage(c);
  check_extra_certs(c.certs, c.layout, c.cert_label(), c.problems);
}

}  // namespace

std::optional<CheckedCertificate> check_certificate(const Material& material,
                                                    const CheckOptions& options,
                                                    Problems& problems) {
  return check_certificate(material, options, problems, nullptr);
}

std::optional<CheckedCertificate> check_certificate(const Material& material,
                                                    const CheckOptions& options, Problems& problems,
                                                    CertificateSummary* summary_out) {
  const std::size_t errors_before = problems.error_count();
  Check c{material, options, problems, options.now ? options.now : std::time(nullptr), {}, {}, {}};
  c.certs = parse_certificates(material.cert_bytes, material.cert_label, problems);
  c.key = parse_private_key(material.key_bytes, material.key_label, problems);
  if (!c.certs.empty()) run_certificate_checks(c);
  ERR_clear_error();
  CertificateSummary summary;
  if (!c.certs.empty()) summary = summarize(c);
  if (summary_out) *summary_out = summary;
  if (c.certs.empty() || !c.key || problems.error_count() > errors_before) return std::nullopt;

  CheckedCertificate out;
  out.summary = std::move(summary);
  out.leaf = up_ref(c.leaf());
  for (std::size_t i : c.layout.chain) out.chain.push_back(up_ref(c.certs[i].get()));
  out.key = std::move(c.key);
  return out;
}

std::string chain_pem(const CheckedCertificate& certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  bool ok = PEM_write_bio_X509(bio.get(), certificate.leaf.get()) == 1;
  for (const auto& x : certificate.chain) ok = ok && PEM_write_bio_X509(bio.get(), x.get()) == 1;
  ERR_clear_error();
  return ok ? bio_contents(bio.get()) : std::string();
}

std::string key_pem(const CheckedCertificate& certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return {};
  bool ok = PEM_write_bio_PrivateKey(bio.get(), certificate.key.get(), nullptr, nullptr, 0, nullptr,
                                     nullptr) == 1;
  ERR_clear_error();
  return ok ? bio_contents(bio.get()) : std::string();
}

std::string ca_file_pem(const std::string& path) {
  FileRead r = read_small_file(path, 16u << 20);
  if (!r.bytes) return {};
  Problems ignored;  // the checks of the same file report them
  auto certs = parse_certificates(*r.bytes, "--ca-file", ignored);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || certs.empty()) return {};
  bool ok = true;
  for (const auto& x : certs) ok = ok && PEM_write_bio_X509(bio.get(), x.get()) == 1;
  ERR_clear_error();
  return ok ? bio_contents(bio.get()) : std::string();
}

}  // namespace scoregate::tls
