// The TLS library seam (docs/ARCHITECTURE.md "TLS library"). scoregate is written against the
// OpenSSL 3 API; built with -DSCOREGATE_TLS=boringssl it runs on BoringSSL instead (Debian's
// android-libboringssl), which keeps most of that API under the same names. This header gives
// the few OpenSSL 3 calls BoringSSL lacks their BoringSSL equivalents, so the call sites stay
// one version. With OpenSSL it only includes OpenSSL's headers.
//
// Include it (instead of, or after, the <openssl/...> headers) wherever one of the names below
// is used. Whatever BoringSSL does differently in behaviour, not in name, is handled at the call
// site, with a comment (ticket keys: tls/ticket_keys.cpp; trust store: tls/chain.cpp).
#pragma once

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdlib>
#include <string>

#if defined(OPENSSL_IS_BORINGSSL)
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ec_key.h>
#include <openssl/obj.h>
#include <openssl/rsa.h>

#include <climits>
#include <cstddef>
#include <cstring>
#include <ctime>

#ifndef EVP_PKEY_ED448
#define EVP_PKEY_ED448 NID_ED448
#endif
// BoringSSL's default: it never treats a missing close_notify as anything but the end of data
// the application must judge (HTTP framing does).
#ifndef SSL_OP_IGNORE_UNEXPECTED_EOF
#define SSL_OP_IGNORE_UNEXPECTED_EOF 0
#endif

inline int EVP_PKEY_get_base_id(const EVP_PKEY* key) { return EVP_PKEY_id(key); }
inline int EVP_PKEY_get_bits(const EVP_PKEY* key) { return EVP_PKEY_bits(key); }
inline int EVP_PKEY_eq(const EVP_PKEY* a, const EVP_PKEY* b) { return EVP_PKEY_cmp(a, b); }

// The curve's short name ("prime256v1", as OpenSSL 3 reports it); EC keys only.
inline int EVP_PKEY_get_group_name(const EVP_PKEY* key, char* out, std::size_t size,
                                   std::size_t* length) {
  const EC_KEY* ec = EVP_PKEY_get0_EC_KEY(key);
  const EC_GROUP* group = ec ? EC_KEY_get0_group(ec) : nullptr;
  const char* name = group ? OBJ_nid2sn(EC_GROUP_get_curve_name(group)) : nullptr;
  if (!name || std::strlen(name) + 1 > size) return 0;
  std::strcpy(out, name);
  if (length) *length = std::strlen(name);
  return 1;
}

inline const char* EVP_PKEY_get0_type_name(const EVP_PKEY* key) {
  return OBJ_nid2sn(EVP_PKEY_id(key));
}

// X509_get_pubkey() decodes once, caches the key in the certificate and returns a new
// reference to it; dropping that reference leaves the certificate's.
inline EVP_PKEY* X509_get0_pubkey(const X509* x) {
  EVP_PKEY* key = X509_get_pubkey(const_cast<X509*>(x));
  EVP_PKEY_free(key);
  return key;
}

inline int X509_get_signature_info(X509* x, int* md, int* pk, int* secbits, uint32_t* flags) {
  int digest = NID_undef, pkey = NID_undef;
  int ok = OBJ_find_sigid_algs(X509_get_signature_nid(x), &digest, &pkey);
  if (md) *md = digest;
  if (pk) *pk = pkey;
  if (secbits) *secbits = -1;
  if (flags) *flags = 0;
  return ok;
}

// As OpenSSL 3's: the names match and (if asked) the signature verifies with its own key.
// BoringSSL's X509_check_issued would also demand keyCertSign, which a self-signed leaf lacks.
inline int X509_self_signed(X509* x, int verify) {
  if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0) return 0;
  return verify ? X509_verify(x, X509_get0_pubkey(x)) == 1 : 1;
}

inline STACK_OF(X509) * X509_STORE_CTX_get1_certs(X509_STORE_CTX* ctx, const X509_NAME* name) {
  return X509_STORE_get1_certs(ctx, const_cast<X509_NAME*>(name));
}

// Via the difference to the epoch, which BoringSSL computes for both UTCTime and
// GeneralizedTime.
inline int ASN1_TIME_to_tm(const ASN1_TIME* t, struct tm* out) {
  ASN1_TIME* epoch = ASN1_TIME_set(nullptr, 0);
  int days = 0, seconds = 0;
  int ok = epoch && ASN1_TIME_diff(&days, &seconds, epoch, t);
  ASN1_TIME_free(epoch);
  if (!ok) return 0;
  std::time_t when = static_cast<std::time_t>(days) * 86400 + seconds;
  return gmtime_r(&when, out) ? 1 : 0;
}

inline int SSL_read_ex(SSL* ssl, void* data, std::size_t size, std::size_t* got) {
  int r = SSL_read(ssl, data, static_cast<int>(size < INT_MAX ? size : INT_MAX));
  *got = r > 0 ? static_cast<std::size_t>(r) : 0;
  return r > 0 ? 1 : r;
}

// Like OpenSSL 3 without SSL_MODE_ENABLE_PARTIAL_WRITE: 1 only when every byte is written.
inline int SSL_write_ex(SSL* ssl, const void* data, std::size_t size, std::size_t* written) {
  int r = SSL_write(ssl, data, static_cast<int>(size < INT_MAX ? size : INT_MAX));
  *written = r > 0 ? static_cast<std::size_t>(r) : 0;
  return r > 0 ? 1 : r;
}

inline X509* SSL_get1_peer_certificate(const SSL* ssl) { return SSL_get_peer_certificate(ssl); }
inline int SSL_CTX_set1_groups_list(SSL_CTX* ctx, const char* list) {
  return SSL_CTX_set1_curves_list(ctx, list);
}
// BoringSSL has no security levels: nothing weaker than what the probe asks for is refused.
inline void SSL_CTX_set_security_level(SSL_CTX*, int) {}

inline EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char* type, const char* curve) {
  if (std::strcmp(type, "EC") != 0) return nullptr;
  int nid = EC_curve_nist2nid(curve);
  EC_KEY* ec = nid != NID_undef ? EC_KEY_new_by_curve_name(nid) : nullptr;
  EVP_PKEY* key = ec ? EVP_PKEY_new() : nullptr;
  if (!key || EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(key, ec) != 1) {
    EVP_PKEY_free(key);
    EC_KEY_free(ec);
    return nullptr;
  }
  return key;
}

inline EVP_PKEY* EVP_PKEY_Q_keygen(void*, const char*, const char* type, std::size_t bits) {
  if (std::strcmp(type, "RSA") != 0) return nullptr;
  RSA* rsa = RSA_new();
  BIGNUM* e = BN_new();
  EVP_PKEY* key = rsa && e ? EVP_PKEY_new() : nullptr;
  bool ok = key && BN_set_word(e, RSA_F4) == 1 &&
            RSA_generate_key_ex(rsa, static_cast<int>(bits), e, nullptr) == 1 &&
            EVP_PKEY_assign_RSA(key, rsa) == 1;
  BN_free(e);
  if (!ok) {
    EVP_PKEY_free(key);
    RSA_free(rsa);
    return nullptr;
  }
  return key;
}

inline int EVP_CIPHER_get_iv_length(const EVP_CIPHER* cipher) {
  return static_cast<int>(EVP_CIPHER_iv_length(cipher));
}
#endif  // OPENSSL_IS_BORINGSSL

namespace scoregate::tls {
// Which library this binary is built on (`scoregate version` and the start-up log say it).
inline constexpr bool kBoringSsl =
#if defined(OPENSSL_IS_BORINGSSL)
    true;
#else
    false;
#endif

// The operating system's trusted roots into `store`. OpenSSL's default paths are Debian's
// (/etc/ssl/certs); BoringSSL's are Android's, so there Debian's bundle and directory are added
// unless SSL_CERT_FILE / SSL_CERT_DIR name others. Errors (a missing file) are left for the
// caller to clear: an empty store fails verification with a clear reason later.
inline void use_system_trust(X509_STORE* store) {
  X509_STORE_set_default_paths(store);
#if defined(OPENSSL_IS_BORINGSSL)
  if (!std::getenv("SSL_CERT_FILE") && !std::getenv("SSL_CERT_DIR"))
    X509_STORE_load_locations(store, "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs");
#endif
}

// X509_verify_cert_error_string() in OpenSSL 3's words: BoringSSL capitalises some
// ("Hostname mismatch"), OpenSSL 3 none.
inline std::string verify_error_text(long code) {
  std::string text = X509_verify_cert_error_string(code);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}
}  // namespace scoregate::tls
