#include "tls/test_pki.hpp"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "tls/compat.hpp"

namespace scoregate::tls::testpki {

namespace {

constexpr char kPass[] = "test-passphrase";

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

struct BioOwner {
  BIO* bio = BIO_new(BIO_s_mem());
  ~BioOwner() { BIO_free(bio); }
  std::string str() const {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
};

void add_ext(X509* x, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str());
  require(ext != nullptr, "extension");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

std::string alt_names(const CertSpec& spec) {
  std::string out;
  for (const auto& d : spec.dns) out += (out.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : spec.ips) out += (out.empty() ? "IP:" : ",IP:") + ip;
  return out;
}

void add_extensions(X509* x, X509* issuer, const CertSpec& spec) {
  add_ext(x, issuer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(x, issuer, NID_subject_key_identifier, "hash");
  if (issuer != x) add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
  if (!spec.key_usage.empty()) add_ext(x, issuer, NID_key_usage, "critical," + spec.key_usage);
  if (!spec.extended_key_usage.empty())
    add_ext(x, issuer, NID_ext_key_usage, spec.extended_key_usage);
  if (std::string sans = alt_names(spec); !sans.empty())
    add_ext(x, issuer, NID_subject_alt_name, sans);
}

}  // namespace

PkeyPtr make_key(KeyType type) {
  EVP_PKEY* k = nullptr;
  switch (type) {
    case KeyType::ec_p256:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::ec_p384:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyType::ec_secp256k1:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "secp256k1");
      break;
    case KeyType::rsa2048:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
      break;
    case KeyType::rsa1024:
      k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024});
      break;
  }
  require(k != nullptr, "keygen");
  return PkeyPtr(k);
}

EVP_PKEY* shared_key(KeyType type, int slot) {
  static std::mutex m;
  static std::map<std::pair<int, int>, PkeyPtr> cache;
  std::lock_guard lock(m);
  auto& k = cache[{static_cast<int>(type), slot}];
  if (!k) k = make_key(type);
  return k.get();
}

CertSpec root_spec(const std::string& cn) {
  CertSpec s;
  s.cn = cn;
  s.ca = true;
  s.key_usage = "keyCertSign,cRLSign";
  s.not_after_days = 3650;
  return s;
}

CertSpec intermediate_spec(const std::string& cn) {
  CertSpec s = root_spec(cn);
  s.not_after_days = 1825;
  return s;
}

CertSpec leaf_spec(std::vector<std::string> dns) {
  CertSpec s;
  s.cn = dns.empty() ? "test" : dns[0];
  s.dns = std::move(dns);
  s.extended_key_usage = "serverAuth";
  s.key_usage = "digitalSignature";
  return s;
}

X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), X509_VERSION_3);
  BIGNUM* serial = BN_new();
  BN_rand(serial, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x.get()));
  BN_free(serial);
  X509_time_adj_ex(X509_getm_notBefore(x.get()), static_cast<int>(spec.not_before_days), 0,
                   nullptr);
  X509_time_adj_ex(X509_getm_notAfter(x.get()), static_cast<int>(spec.not_after_days), 0, nullptr);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name);
  add_extensions(x.get(), issuer ? issuer : x.get(), spec);
  require(X509_sign(x.get(), issuer_key ? issuer_key : key, spec.md ? spec.md : EVP_sha256()) > 0,
          "sign");
  return x;
}

Issued issue(const CertSpec& spec, const Issued* issuer, KeyType type) {
  Issued out;
  out.key = make_key(type);
  out.cert = make_cert(spec, out.key.get(), issuer ? issuer->cert.get() : nullptr,
                       issuer ? issuer->key.get() : nullptr);
  return out;
}

Pki make_pki(const CertSpec& leaf, KeyType leaf_key) {
  Pki p;
  p.root = issue(root_spec(), nullptr);
  p.intermediate = issue(intermediate_spec(), &p.root);
  p.leaf = issue(leaf, &p.intermediate, leaf_key);
  return p;
}

std::string pem(std::initializer_list<X509*> certs) {
  BioOwner b;
  for (X509* x : certs) PEM_write_bio_X509(b.bio, x);
  return b.str();
}

std::string der(X509* cert) {
  BioOwner b;
  i2d_X509_bio(b.bio, cert);
  return b.str();
}

std::string key_pem(EVP_PKEY* key) {
  BioOwner b;
  PEM_write_bio_PrivateKey(b.bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return b.str();
}

// "BEGIN EC PRIVATE KEY" / "BEGIN RSA PRIVATE KEY", optionally with PEM encryption.
void write_traditional(BIO* bio, EVP_PKEY* key, const EVP_CIPHER* cipher) {
  auto* pass = reinterpret_cast<unsigned char*>(const_cast<char*>(kPass));
  int len = cipher ? static_cast<int>(sizeof kPass - 1) : 0;
#if defined(OPENSSL_IS_BORINGSSL)
  if (EVP_PKEY_id(key) == EVP_PKEY_EC)
    PEM_write_bio_ECPrivateKey(bio, EVP_PKEY_get0_EC_KEY(key), cipher, cipher ? pass : nullptr, len,
                               nullptr, nullptr);
  else
    PEM_write_bio_RSAPrivateKey(bio, EVP_PKEY_get0_RSA(key), cipher, cipher ? pass : nullptr, len,
                                nullptr, nullptr);
#else
  PEM_write_bio_PrivateKey_traditional(bio, key, cipher, cipher ? pass : nullptr, len, nullptr,
                                       nullptr);
#endif
}

std::string key_pem_traditional(EVP_PKEY* key) {
  BioOwner b;
  write_traditional(b.bio, key, nullptr);
  return b.str();
}

std::string key_der(EVP_PKEY* key) {
  BioOwner b;
  i2d_PrivateKey_bio(b.bio, key);
  return b.str();
}

std::string key_pem_encrypted_pkcs8(EVP_PKEY* key) {
  BioOwner b;
  PEM_write_bio_PKCS8PrivateKey(b.bio, key, EVP_aes_256_cbc(), const_cast<char*>(kPass),
                                sizeof kPass - 1, nullptr, nullptr);
  return b.str();
}

std::string key_pem_encrypted_traditional(EVP_PKEY* key) {
  BioOwner b;
  write_traditional(b.bio, key, EVP_aes_128_cbc());
  return b.str();
}

std::string key_der_encrypted_pkcs8(EVP_PKEY* key) {
  BioOwner b;
  i2d_PKCS8PrivateKey_bio(b.bio, key, EVP_aes_256_cbc(), const_cast<char*>(kPass), sizeof kPass - 1,
                          nullptr, nullptr);
  return b.str();
}

std::string pkcs12(X509* cert, EVP_PKEY* key) {
  PKCS12* p12 = PKCS12_create(kPass, "test", key, cert, nullptr, 0, 0, 0, 0, 0);
  require(p12 != nullptr, "PKCS12_create");
  BioOwner b;
  i2d_PKCS12_bio(b.bio, p12);
  PKCS12_free(p12);
  return b.str();
}

Material material(X509* leaf, std::initializer_list<X509*> chain, EVP_PKEY* key) {
  Material m;
  m.cert_bytes = pem({leaf});
  for (X509* x : chain) m.cert_bytes += pem({x});
  m.key_bytes = key_pem(key);
  m.cert_label = "sslCertPemFile";
  m.key_label = "sslKeyPemFile";
  return m;
}

const Problem* find(const Problems& problems, const std::string& code) {
  for (const auto& p : problems.items())
    if (p.code == code) return &p;
  return nullptr;
}

std::string codes(const Problems& problems) {
  std::string out;
  for (const auto& p : problems.items()) out += format_problem(p) + "\n";
  return out;
}

TempDir::TempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "scoregate-tls-test-XXXXXX").string();
  require(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& bytes) const {
  std::filesystem::path p = std::filesystem::path(path_) / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

}  // namespace scoregate::tls::testpki
