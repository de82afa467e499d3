// An in-memory PKI for tests: keys, root/intermediate/leaf certificates with chosen dates,
// names, usages and signature digests, and their PEM/DER/PKCS#12 encodings. Throwaway keys only.
#pragma once

#include <openssl/evp.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "tls/certificate.hpp"

namespace scoregate::tls::testpki {

enum class KeyType { ec_p256, ec_p384, ec_secp256k1, rsa2048, rsa1024 };

// A fresh key. RSA generation is slow, so shared_key() hands out cached ones.
PkeyPtr make_key(KeyType type);
EVP_PKEY* shared_key(KeyType type, int slot = 0);

struct CertSpec {
  std::string cn = "test";
  std::vector<std::string> dns;
  std::vector<std::string> ips;
  long not_before_days = -1;  // relative to now; negative = in the past
  long not_after_days = 365;
  bool ca = false;
  const EVP_MD* md = nullptr;      // nullptr = SHA-256
  std::string extended_key_usage;  // "" = no extension, e.g. "serverAuth", "clientAuth"
  std::string key_usage;           // "" = no extension, e.g. "digitalSignature"
};

CertSpec root_spec(const std::string& cn = "Test Root CA");
CertSpec intermediate_spec(const std::string& cn = "Test Intermediate CA");
CertSpec leaf_spec(std::vector<std::string> dns = {"scoring.example.com"});

// issuer == nullptr: self-signed with `key`.
X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer = nullptr,
                  EVP_PKEY* issuer_key = nullptr);

struct Issued {
  X509Ptr cert;
  PkeyPtr key;
};

Issued issue(const CertSpec& spec, const Issued* issuer, KeyType type = KeyType::ec_p256);

// root -> intermediate -> leaf.
struct Pki {
  Issued root, intermediate, leaf;
};
Pki make_pki(const CertSpec& leaf = leaf_spec(), KeyType leaf_key = KeyType::ec_p256);

std::string pem(std::initializer_list<X509*> certs);
std::string der(X509* cert);
std::string key_pem(EVP_PKEY* key);              // PKCS#8
std::string key_pem_traditional(EVP_PKEY* key);  // "EC PRIVATE KEY" / "RSA PRIVATE KEY"
std::string key_der(EVP_PKEY* key);
std::string key_pem_encrypted_pkcs8(EVP_PKEY* key);        // ENCRYPTED PRIVATE KEY
std::string key_pem_encrypted_traditional(EVP_PKEY* key);  // Proc-Type: 4,ENCRYPTED
std::string key_der_encrypted_pkcs8(EVP_PKEY* key);
std::string pkcs12(X509* cert, EVP_PKEY* key);

// A Material for a leaf followed by `chain` (PEM) and its key (PEM).
Material material(X509* leaf, std::initializer_list<X509*> chain, EVP_PKEY* key);

const Problem* find(const Problems& problems, const std::string& code);
// Codes, for failure messages: "CERT_EXPIRED(error) ...".
std::string codes(const Problems& problems);

// A private temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes path()/name (creating parent directories), returns the full path.
  std::string write(const std::string& name, const std::string& bytes) const;

 private:
  std::string path_;
};

}  // namespace scoregate::tls::testpki
