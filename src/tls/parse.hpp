// Turning the bytes of the certificate and key settings into OpenSSL objects, recognising the
// formats people actually hand over (PEM, DER, PKCS#12, encrypted keys, swapped files) so
// that each gets a precise code and fix. Sans-IO; never prompts for a passphrase.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "tls/certificate.hpp"

namespace scoregate::tls {

// All certificates, in file order. Empty (with a problem) when none could be read.
// CERT_EMPTY, CERT_NOT_PEM, CERT_DER (warning), CERT_PKCS12.
std::vector<X509Ptr> parse_certificates(std::string_view bytes, const std::string& label,
                                        Problems& problems);

// The first private key. nullptr (with a problem) when none could be read.
// KEY_EMPTY, KEY_NOT_PEM, KEY_DER (warning), KEY_PKCS12, KEY_ENCRYPTED.
PkeyPtr parse_private_key(std::string_view bytes, const std::string& label, Problems& problems);

}  // namespace scoregate::tls
