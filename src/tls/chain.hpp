// The chain part of the certificate checks: which certificates of the file form the leaf's
// chain, whether they are in issuing order, and whether the chain reaches a trusted root.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "tls/certificate.hpp"

namespace scoregate::tls {

struct ChainLayout {
  std::size_t leaf = 0;
  std::vector<std::size_t> chain;   // the leaf's issuers found in the file, nearest first
  std::vector<std::size_t> extras;  // certificates that are not part of that chain
};

// Follows issuer links from certs[leaf] through the other certificates, whatever their order.
ChainLayout layout_chain(const std::vector<X509Ptr>& certs, std::size_t leaf);

// CERT_CHAIN_ORDER: the file does not list leaf, then each certificate's issuer.
void check_chain_order(const std::vector<X509Ptr>& certs, const ChainLayout& layout,
                       const std::string& label, Problems& problems);

// CERT_EXTRA_CERTS (warning).
void check_extra_certs(const std::vector<X509Ptr>& certs, const ChainLayout& layout,
                       const std::string& label, Problems& problems);

// CERT_CHAIN_INCOMPLETE (the leaf's issuer is unknown), CERT_CHAIN_PRIVATE_ROOT (warning:
// leaf and intermediate(s), the last one's issuer unknown), CERT_UNTRUSTED_ROOT,
// CERT_SELF_SIGNED, CERT_CA_FILE_INVALID. Trusted = the system store, options.trusted_ca_file
// or material.ca_bytes (the Secret's ca.crt). Problems name material.cert_label.
void check_chain_trust(const std::vector<X509Ptr>& certs, const ChainLayout& layout,
                       const CheckOptions& options, const Material& material, Problems& problems);

}  // namespace scoregate::tls
