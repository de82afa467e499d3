#include "tls/devcert.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "tls/file_io.hpp"
#include "tls/openssl_util.hpp"
#include "tls/parse.hpp"

namespace scoregate::tls {

namespace {

constexpr long kDay = 86400;
constexpr long kCaDays = 3650;
constexpr long kLeafDays = 397;  // the CA/Browser Forum maximum; Apple clients refuse longer
constexpr long kMinRemainingDays = 7;
constexpr const char* kCaName = "scoregate development CA";

struct Paths {
  std::string ca_cert, ca_key, cert, key;
};

struct Pair {
  X509Ptr cert;
  PkeyPtr key;
};

[[noreturn]] void fail(const std::string& what) {
  std::string why = openssl_errors();
  throw std::runtime_error("development certificate: " + what +
                           (why.empty() ? "" : " (" + why + ")"));
}

void check_names(const std::vector<std::string>& names) {
  if (names.empty()) throw std::runtime_error("development certificate: no host names given");
  for (const auto& n : names) {
    bool dns =
        !n.empty() && n.size() <= 253 &&
        n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") ==
            std::string::npos;
    if (!dns && !is_ip_address(n))
      throw std::runtime_error("development certificate: '" + n +
                               "' is neither a DNS name nor an IP address");
  }
}

void ensure_directory(const std::string& dir) {
  std::error_code ec;
  bool created = std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir + ": " + ec.message());
  if (created) {
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    if (ec) throw std::runtime_error("cannot restrict " + dir + " to its owner: " + ec.message());
  }
}

PkeyPtr new_key() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) fail("cannot generate an ECDSA P-256 key");
  return key;
}

void add_extension(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext || X509_add_ext(x, ext, -1) != 1) {
    X509_EXTENSION_free(ext);
    fail("cannot add extension " + std::string(OBJ_nid2sn(nid)) + "=" + value);
  }
  X509_EXTENSION_free(ext);
}

// Issuer nullptr = self-signed. Times are absolute; serials random (RFC 5280: positive, ≤ 20
// bytes).
X509Ptr new_certificate(const std::string& cn, EVP_PKEY* key, X509* issuer, std::time_t not_before,
                        std::time_t not_after) {
  X509Ptr x(X509_new());
  BIGNUM* serial = BN_new();
  bool ok = x && serial && X509_set_version(x.get(), X509_VERSION_3) == 1 &&
            BN_rand(serial, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x.get())) != nullptr &&
            ASN1_TIME_set(X509_getm_notBefore(x.get()), not_before) != nullptr &&
            ASN1_TIME_set(X509_getm_notAfter(x.get()), not_after) != nullptr &&
            X509_set_pubkey(x.get(), key) == 1;
  BN_free(serial);
  if (!ok) fail("cannot build the certificate for " + cn);
  X509_NAME* name = X509_get_subject_name(x.get());
  ok = X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                  0) == 1 &&
       X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name) == 1;
  if (!ok) fail("cannot build the certificate for " + cn);
  return x;
}

void sign(X509* x, EVP_PKEY* issuer_key) {
  if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) fail("cannot sign the certificate");
}

Pair new_ca(std::time_t now) {
  Pair ca{nullptr, new_key()};
  ca.cert = new_certificate(kCaName, ca.key.get(), nullptr, now - 3600, now + kCaDays * kDay);
  X509* x = ca.cert.get();
  add_extension(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_extension(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(x, x, NID_subject_key_identifier, "hash");
  sign(x, ca.key.get());
  return ca;
}

std::string alt_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ",") + std::string(is_ip_address(n) ? "IP:" : "DNS:") + n;
  return out;
}

Pair new_leaf(const Pair& ca, const std::vector<std::string>& names, std::time_t now) {
  Pair leaf{nullptr, new_key()};
  std::time_t until = std::min<std::time_t>(now + kLeafDays * kDay,
                                            asn1_time_to_time_t(X509_get0_notAfter(ca.cert.get())));
  std::string cn = names[0].size() <= 64 ? names[0] : "scoregate development server";
  leaf.cert = new_certificate(cn, leaf.key.get(), ca.cert.get(), now - 3600, until);
  X509* x = leaf.cert.get();
  add_extension(x, ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(x, ca.cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(x, ca.cert.get(), NID_ext_key_usage, "serverAuth");
  add_extension(x, ca.cert.get(), NID_subject_alt_name, alt_names(names));
  add_extension(x, ca.cert.get(), NID_subject_key_identifier, "hash");
  add_extension(x, ca.cert.get(), NID_authority_key_identifier, "keyid:always");
  sign(x, ca.key.get());
  return leaf;
}

std::string pem_of(X509* x) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x) != 1) fail("cannot encode a certificate");
  return bio_contents(bio.get());
}

std::string pem_of(EVP_PKEY* k) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot encode a private key");
  return bio_contents(bio.get());
}

// The certificates and key of a pair of files, or nothing when either is absent or unusable.
std::optional<std::pair<std::vector<X509Ptr>, PkeyPtr>> load(const std::string& cert_path,
                                                             const std::string& key_path) {
  FileRead c = read_small_file(cert_path), k = read_small_file(key_path);
  if (!c.bytes || !k.bytes) return std::nullopt;
  Problems ignored;
  auto certs = parse_certificates(*c.bytes, cert_path, ignored);
  PkeyPtr key = parse_private_key(*k.bytes, key_path, ignored);
  bool ok = !certs.empty() && key && X509_check_private_key(certs[0].get(), key.get()) == 1;
  ERR_clear_error();
  if (!ok) return std::nullopt;
  return std::make_pair(std::move(certs), std::move(key));
}

bool lasts(X509* x, std::time_t now) {
  return asn1_time_to_time_t(X509_get0_notBefore(x)) <= now &&
         asn1_time_to_time_t(X509_get0_notAfter(x)) >= now + kMinRemainingDays * kDay;
}

std::optional<Pair> usable_ca(const Paths& p, std::time_t now) {
  auto loaded = load(p.ca_cert, p.ca_key);
  if (!loaded) return std::nullopt;
  X509* ca = loaded->first[0].get();
  if (X509_check_ca(ca) == 0 || !is_self_signed(ca) || !lasts(ca, now)) return std::nullopt;
  return Pair{up_ref(ca), std::move(loaded->second)};
}

bool usable_leaf(const Paths& p, const Pair& ca, const std::vector<std::string>& names,
                 std::time_t now) {
  auto loaded = load(p.cert, p.key);
  if (!loaded) return false;
  auto& certs = loaded->first;
  X509* leaf = certs[0].get();
  bool ok = certs.size() == 2 && X509_cmp(certs[1].get(), ca.cert.get()) == 0 &&
            issued_by(leaf, ca.cert.get()) && lasts(leaf, now);
  for (const auto& n : names) ok = ok && covers_name(leaf, n);
  return ok;
}

}  // namespace

DevMaterial ensure_dev_material(const std::string& dir, const std::vector<std::string>& names) {
  check_names(names);
  ensure_directory(dir);
  Paths p{dir + "/dev-ca.pem", dir + "/dev-ca-key.pem", dir + "/cert.pem", dir + "/key.pem"};
  DevMaterial out{p.ca_cert, p.cert, p.key, false};
  std::time_t now = std::time(nullptr);

  std::optional<Pair> ca = usable_ca(p, now);
  if (ca && usable_leaf(p, *ca, names, now)) return out;
  if (!ca) {
    ca = new_ca(now);
    // Key first: a crash between the two renames leaves a mismatch, which the next run repairs.
    write_file_atomic(p.ca_key, pem_of(ca->key.get()), 0600);
    write_file_atomic(p.ca_cert, pem_of(ca->cert.get()), 0644);
  }
  Pair leaf = new_leaf(*ca, names, now);
  write_file_atomic(p.key, pem_of(leaf.key.get()), 0600);
  write_file_atomic(p.cert, pem_of(leaf.cert.get()) + pem_of(ca->cert.get()), 0644);
  ERR_clear_error();
  out.created = true;
  return out;
}

}  // namespace scoregate::tls
