#include "tls/parse.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#if defined(OPENSSL_IS_BORINGSSL)
#include <openssl/bytestring.h>
#endif

#include "tls/openssl_util.hpp"

namespace scoregate::tls {

namespace {

constexpr const char* kDerCertFix = "openssl x509 -inform der -in cert.der -out cert.pem";
constexpr const char* kDerKeyFix = "openssl pkey -inform der -in key.der -out key.pem";
constexpr const char* kP12Fix =
    "extract PEM files: openssl pkcs12 -in bundle.p12 -nokeys -out cert.pem and "
    "openssl pkcs12 -in bundle.p12 -nocerts -nodes -out key.pem";
constexpr const char* kEncryptedFix =
    "remove the passphrase: openssl pkey -in key.pem -out key-nopass.pem (asks for the "
    "passphrase once), then use key-nopass.pem";

struct PemBlock {
  std::string name, header, data;
};

struct PemScan {
  std::vector<PemBlock> blocks;
  bool damaged = false;  // a BEGIN line whose block could not be decoded
};

bool looks_like_pem(std::string_view bytes) {
  return bytes.find("-----BEGIN ") != std::string_view::npos;
}

bool blank(std::string_view bytes) {
  return bytes.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_private_key_block(std::string_view name) {
  return name == "PRIVATE KEY" || name == "ENCRYPTED PRIVATE KEY" ||
         ends_with(name, " PRIVATE KEY");
}

bool is_certificate_block(std::string_view name) {
  return name == "CERTIFICATE" || name == "X509 CERTIFICATE" || name == "TRUSTED CERTIFICATE";
}

PemScan scan_pem(std::string_view bytes) {
  PemScan scan;
  BioPtr bio = memory_bio(bytes);
  // PEM_read_bio consumes at least one line per call, so this ends; the cap bounds hostile input.
  for (int guard = 0; bio && guard < 4096; ++guard) {
    char *name = nullptr, *header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) == 1) {
      scan.blocks.push_back(
          {name, header ? header : "",
           std::string(reinterpret_cast<char*>(data), static_cast<std::size_t>(len))});
      OPENSSL_free(name);
      OPENSSL_free(header);
      OPENSSL_free(data);
      continue;
    }
    unsigned long e = ERR_peek_last_error();
    bool end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    if (end || BIO_eof(bio.get())) {
      if (!end) scan.damaged = true;
      break;
    }
    scan.damaged = true;
  }
  return scan;
}

bool is_pkcs12(std::string_view bytes) {
#if defined(OPENSSL_IS_BORINGSSL)
  // BoringSSL's d2i_PKCS12 accepts any bytes (it parses only with the password). A DER PFX is
  // recognised by its outer structure, PFX ::= SEQUENCE { version INTEGER (3), authSafe
  // ContentInfo (SEQUENCE { contentType OID data or signedData, ... }), ... } (RFC 7292 §4);
  // a BER one (indefinite lengths, as some tools write) when BoringSSL's own parser gets as
  // far as the password.
  CBS in, pfx, auth_safe, oid;
  CBS_init(&in, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  static constexpr uint8_t kData[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};
  static constexpr uint8_t kSigned[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
  uint64_t version = 0;
  if (CBS_get_asn1(&in, &pfx, CBS_ASN1_SEQUENCE) && CBS_get_asn1_uint64(&pfx, &version) &&
      version == 3 && CBS_get_asn1(&pfx, &auth_safe, CBS_ASN1_SEQUENCE) &&
      CBS_get_asn1(&auth_safe, &oid, CBS_ASN1_OBJECT) &&
      (CBS_mem_equal(&oid, kData, sizeof kData) || CBS_mem_equal(&oid, kSigned, sizeof kSigned)))
    return true;
  CBS_init(&in, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  EVP_PKEY* key = nullptr;
  STACK_OF(X509)* certs = sk_X509_new_null();
  bool parsed = certs && PKCS12_get_key_and_certs(&key, certs, &in, "") == 1;
  uint32_t error = ERR_peek_last_error();
  EVP_PKEY_free(key);
  sk_X509_pop_free(certs, X509_free);
  ERR_clear_error();
  return parsed || (ERR_GET_LIB(error) == ERR_LIB_PKCS8 &&
                    ERR_GET_REASON(error) == PKCS8_R_INCORRECT_PASSWORD);
#else
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(bytes.size()));
  PKCS12_free(p12);
  ERR_clear_error();
  return p12 != nullptr;
#endif
}

bool is_encrypted_pkcs8_der(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  X509_SIG* sig = d2i_X509_SIG(nullptr, &p, static_cast<long>(bytes.size()));
  X509_SIG_free(sig);
  ERR_clear_error();
  return sig != nullptr;
}

PkeyPtr private_key_from_der(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr key(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  return key;
}

X509Ptr certificate_from_der(const unsigned char** p, long len, bool trusted_form = false) {
  X509Ptr x(trusted_form ? d2i_X509_AUX(nullptr, p, len) : d2i_X509(nullptr, p, len));
  ERR_clear_error();
  return x;
}

// A DER file may hold several certificates back to back; all must decode.
std::vector<X509Ptr> der_certificates(std::string_view bytes) {
  std::vector<X509Ptr> out;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    X509Ptr x = certificate_from_der(&p, static_cast<long>(end - p));
    if (!x) return {};
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<X509Ptr> certificates_from_pem(std::string_view bytes, const std::string& label,
                                           Problems& problems) {
  PemScan scan = scan_pem(bytes);
  std::vector<X509Ptr> certs;
  int bad = 0;
  bool saw_key = false, saw_csr = false, saw_pkcs7 = false;
  for (const auto& b : scan.blocks) {
    if (is_certificate_block(b.name)) {
      const auto* p = reinterpret_cast<const unsigned char*>(b.data.data());
      X509Ptr x = certificate_from_der(&p, static_cast<long>(b.data.size()),
                                       b.name == "TRUSTED CERTIFICATE");
      if (x)
        certs.push_back(std::move(x));
      else
        ++bad;
    }
    saw_key |= is_private_key_block(b.name);
    saw_csr |= b.name == "CERTIFICATE REQUEST" || b.name == "NEW CERTIFICATE REQUEST";
    saw_pkcs7 |= b.name == "PKCS7";
  }
  if (bad || scan.damaged) {
    problems.error("CERT_NOT_PEM", label,
                   "a PEM block could not be decoded (damaged base64, a missing -----END line, "
                   "or not a certificate inside)",
                   "re-export the chain from your CA; each certificate must be intact between "
                   "-----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----");
    // The rest would be checked with a guessed leaf and chain: only noise would follow.
    return {};
  }
  if (!certs.empty()) return certs;
  if (saw_pkcs7)
    problems.error("CERT_NOT_PEM", label, "holds a PKCS#7 bundle, not PEM certificates",
                   "convert it: openssl pkcs7 -print_certs -in cert.p7b -out cert.pem");
  else if (saw_csr)
    problems.error("CERT_EMPTY", label,
                   "holds a certificate signing request (CSR), not a certificate",
                   "send the CSR to your CA and use the certificate chain it returns");
  else if (saw_key)
    problems.error("CERT_EMPTY", label, "holds a private key but no certificate",
                   "the certificate and key settings look swapped; the certificate file starts "
                   "with -----BEGIN CERTIFICATE-----");
  else
    problems.error("CERT_EMPTY", label, "holds no -----BEGIN CERTIFICATE----- block",
                   "put the PEM certificate chain there: leaf first, then intermediates");
  return certs;
}

std::vector<X509Ptr> certificates_from_binary(std::string_view bytes, const std::string& label,
                                              Problems& problems) {
  if (blank(bytes)) {
    problems.error("CERT_EMPTY", label, "is empty",
                   "put the PEM certificate chain there: leaf first, then intermediates");
    return {};
  }
  auto certs = der_certificates(bytes);
  if (!certs.empty()) {
    problems.warning("CERT_DER", label,
                     "is DER (binary), not PEM; accepted, but other tools expect PEM",
                     std::string("convert it: ") + kDerCertFix);
    return certs;
  }
  if (is_pkcs12(bytes)) {
    problems.error("CERT_PKCS12", label, "is a PKCS#12 bundle (.p12/.pfx), not a PEM certificate",
                   kP12Fix);
  } else if (is_encrypted_pkcs8_der(bytes) || private_key_from_der(bytes)) {
    problems.error("CERT_EMPTY", label, "holds a private key (DER) but no certificate",
                   "the certificate and key settings look swapped");
  } else {
    problems.error("CERT_NOT_PEM", label, "is neither PEM, DER nor PKCS#12",
                   std::string("provide the certificate chain as PEM; from DER: ") + kDerCertFix +
                       "; from PKCS#7: openssl pkcs7 -print_certs -in cert.p7b -out cert.pem");
  }
  return {};
}

PkeyPtr key_from_pem_block(const PemBlock& b, const std::string& label, Problems& problems) {
  if (b.name == "ENCRYPTED PRIVATE KEY" || b.header.find("ENCRYPTED") != std::string::npos) {
    problems.error("KEY_ENCRYPTED", label,
                   "is protected by a passphrase, which is not supported (scoregate never asks "
                   "for one)",
                   kEncryptedFix);
    return nullptr;
  }
  PkeyPtr key = private_key_from_der(b.data);
  if (!key)
    problems.error("KEY_NOT_PEM", label, "its '" + b.name + "' block could not be decoded",
                   "re-export the key: openssl pkey -in key.pem -out key-fixed.pem");
  return key;
}

PkeyPtr key_from_pem(std::string_view bytes, const std::string& label, Problems& problems) {
  PemScan scan = scan_pem(bytes);
  bool saw_cert = false, saw_public = false;
  for (const auto& b : scan.blocks) {
    if (is_private_key_block(b.name)) return key_from_pem_block(b, label, problems);
    saw_cert |= is_certificate_block(b.name);
    saw_public |= ends_with(b.name, "PUBLIC KEY");
  }
  if (scan.damaged)
    problems.error("KEY_NOT_PEM", label,
                   "a PEM block could not be decoded (damaged base64 or a missing -----END line)",
                   "re-export the key: openssl pkey -in key.pem -out key-fixed.pem");
  else if (saw_cert)
    problems.error("KEY_EMPTY", label, "holds a certificate but no private key",
                   "the certificate and key settings look swapped; the key file starts with "
                   "-----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)");
  else if (saw_public)
    problems.error("KEY_EMPTY", label, "holds a public key; the private key is needed",
                   "use the private key generated together with the certificate request");
  else
    problems.error("KEY_EMPTY", label, "holds no -----BEGIN PRIVATE KEY----- block",
                   "put the PEM private key of the certificate there");
  return nullptr;
}

PkeyPtr key_from_binary(std::string_view bytes, const std::string& label, Problems& problems) {
  if (blank(bytes)) {
    problems.error("KEY_EMPTY", label, "is empty",
                   "put the PEM private key of the certificate there");
    return nullptr;
  }
  if (is_pkcs12(bytes)) {
    problems.error("KEY_PKCS12", label, "is a PKCS#12 bundle (.p12/.pfx), not a PEM key", kP12Fix);
    return nullptr;
  }
  if (is_encrypted_pkcs8_der(bytes)) {
    problems.error(
        "KEY_ENCRYPTED", label, "is a passphrase-protected DER key, which is not supported",
        "remove the passphrase: openssl pkey -inform der -in key.der -out key-nopass.pem");
    return nullptr;
  }
  if (PkeyPtr key = private_key_from_der(bytes)) {
    problems.warning("KEY_DER", label,
                     "is DER (binary), not PEM; accepted, but other tools expect PEM",
                     std::string("convert it: ") + kDerKeyFix);
    return key;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (certificate_from_der(&p, static_cast<long>(bytes.size())))
    problems.error("KEY_EMPTY", label, "holds a certificate (DER) but no private key",
                   "the certificate and key settings look swapped");
  else
    problems.error("KEY_NOT_PEM", label, "is neither PEM, DER nor PKCS#12",
                   std::string("provide the private key as PEM; from DER: ") + kDerKeyFix);
  return nullptr;
}

}  // namespace

std::vector<X509Ptr> parse_certificates(std::string_view bytes, const std::string& label,
                                        Problems& problems) {
  auto certs = looks_like_pem(bytes) ? certificates_from_pem(bytes, label, problems)
                                     : certificates_from_binary(bytes, label, problems);
  ERR_clear_error();
  return certs;
}

PkeyPtr parse_private_key(std::string_view bytes, const std::string& label, Problems& problems) {
  PkeyPtr key = looks_like_pem(bytes) ? key_from_pem(bytes, label, problems)
                                      : key_from_binary(bytes, label, problems);
  ERR_clear_error();
  return key;
}

}  // namespace scoregate::tls
