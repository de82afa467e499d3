// Small OpenSSL helpers shared by the tls/ sources: owning pointers, the error queue, times,
// names and the "does this certificate cover that name" rule. Internal to tls/, its tests and
// doctor/ (which judges served certificates by the same rules).
#pragma once

#include "core/time.hpp"

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "tls/compat.hpp"

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tls/certificate.hpp"

namespace scoregate::tls {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// A read-only memory BIO over `bytes` (which must outlive it).
BioPtr memory_bio(std::string_view bytes);
// Everything written to a memory BIO, as a string.
std::string bio_contents(BIO* bio);

// Drains this thread's OpenSSL error queue into "reason; reason" (empty if none).
std::string openssl_errors();

X509Ptr up_ref(X509* x);
PkeyPtr up_ref(EVP_PKEY* k);

std::time_t asn1_time_to_time_t(const ASN1_TIME* t);
using scoregate::iso8601_utc;  // core/time.hpp

// RFC 2253 one-line form, e.g. "CN=scoring.example.com,O=Contoso".
std::string name_rfc2253(const X509_NAME* name);
std::string subject_of(const X509* x);

struct SubjectAltNames {
  std::vector<std::string> dns, ip;
};
SubjectAltNames subject_alt_names(const X509* x);
std::string common_name(const X509* x);  // "" when absent

bool is_ip_address(std::string_view name);
// RFC 6125: SAN dNSName/iPAddress; the subject CN only when there are no SANs;
// "*.example.com" covers one whole left-most label.
bool covers_name(X509* x, const std::string& name);
// The names a client can check against, as "a.example.com, IP:10.0.0.1".
std::string covered_names(const X509* x);

// "ECDSA P-256", "RSA 2048", "Ed25519", ...
std::string key_description(const EVP_PKEY* key);
std::string signature_algorithm(const X509* x);

std::string der_of(const X509* x);

// `parent` issued `child`: names/key identifiers match and the signature verifies.
bool issued_by(X509* child, X509* parent);
bool is_self_signed(X509* x);

}  // namespace scoregate::tls
