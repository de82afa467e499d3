#include "tls/openssl_util.hpp"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstring>

namespace scoregate::tls {

BioPtr memory_bio(std::string_view bytes) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    std::string one = buf;
#if defined(OPENSSL_IS_BORINGSSL)
    // BoringSSL names reasons like constants ("...:KEY_VALUES_MISMATCH"); say them in
    // OpenSSL's words ("key values mismatch") so messages read the same with either library.
    if (auto colon = one.rfind(':'); colon != std::string::npos)
      for (std::size_t i = colon + 1; i < one.size(); ++i)
        one[i] = one[i] == '_'
                     ? ' '
                     : static_cast<char>(std::tolower(static_cast<unsigned char>(one[i])));
#endif
    if (!out.empty()) out += "; ";
    out += one;
  }
  return out;
}

X509Ptr up_ref(X509* x) {
  if (x) X509_up_ref(x);
  return X509Ptr(x);
}

PkeyPtr up_ref(EVP_PKEY* k) {
  if (k) EVP_PKEY_up_ref(k);
  return PkeyPtr(k);
}

std::time_t asn1_time_to_time_t(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

std::string name_rfc2253(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !name) return {};
  // Keep UTF-8 readable instead of RFC 2253's \XX escapes for non-ASCII bytes.
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return bio_contents(bio.get());
}

std::string subject_of(const X509* x) { return name_rfc2253(X509_get_subject_name(x)); }

SubjectAltNames subject_alt_names(const X509* x) {
  SubjectAltNames out;
  auto* gens =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (!gens) return out;
  for (int i = 0, n = static_cast<int>(sk_GENERAL_NAME_num(gens)); i < n; ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(gens, i);
    if (g->type == GEN_DNS) {
      const ASN1_STRING* s = g->d.dNSName;
      out.dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                           static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (g->type == GEN_IPADD) {
      const ASN1_STRING* s = g->d.iPAddress;
      int len = ASN1_STRING_length(s);
      char buf[INET6_ADDRSTRLEN] = {};
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family && inet_ntop(family, ASN1_STRING_get0_data(s), buf, sizeof buf))
        out.ip.emplace_back(buf);
    }
  }
  GENERAL_NAMES_free(gens);
  ERR_clear_error();
  return out;
}

std::string common_name(const X509* x) {
  const X509_NAME* name = X509_get_subject_name(x);
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

bool is_ip_address(std::string_view name) {
  std::string s(name);
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool covers_name(X509* x, const std::string& name) {
  if (name.empty()) return false;
  bool ok;
  if (is_ip_address(name)) {
    ok = X509_check_ip_asc(x, name.c_str(), 0) == 1;
  } else {
    auto sans = subject_alt_names(x);
    unsigned flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;
    // RFC 6125 §6.4.4: the CN is a fallback only for certificates without any SAN.
    if (!sans.dns.empty() || !sans.ip.empty()) flags |= X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    ok = X509_check_host(x, name.data(), name.size(), flags, nullptr) == 1;
  }
  ERR_clear_error();
  return ok;
}

std::string covered_names(const X509* x) {
  auto sans = subject_alt_names(x);
  std::string out;
  auto add = [&](const std::string& s) {
    if (!out.empty()) out += ", ";
    out += s;
  };
  for (const auto& d : sans.dns) add(d);
  for (const auto& ip : sans.ip) add("IP:" + ip);
  if (out.empty()) {
    std::string cn = common_name(x);
    if (!cn.empty()) add(cn + " (subject CN only, no subjectAltName)");
  }
  return out.empty() ? "no names at all" : out;
}

std::string key_description(const EVP_PKEY* key) {
  if (!key) return {};
  int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return "RSA " + std::to_string(bits);
    case EVP_PKEY_RSA_PSS:
      return "RSA-PSS " + std::to_string(bits);
    case EVP_PKEY_DSA:
      return "DSA " + std::to_string(bits);
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_EC: {
      char group[64] = {};
      if (EVP_PKEY_get_group_name(key, group, sizeof group, nullptr) != 1)
        return "ECDSA " + std::to_string(bits);
      int nid = OBJ_sn2nid(group);
      const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr;
      return std::string("ECDSA ") + (nist ? nist : group);
    }
    default: {
      const char* type = EVP_PKEY_get0_type_name(key);
      return std::string(type ? type : "unknown key type") + " " + std::to_string(bits);
    }
  }
}

std::string signature_algorithm(const X509* x) {
  int nid = X509_get_signature_nid(x);
  if (nid != NID_undef) return OBJ_nid2ln(nid);
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, x);
  const ASN1_OBJECT* obj = nullptr;
  if (alg) X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  char buf[128] = {};
  if (obj) OBJ_obj2txt(buf, sizeof buf, obj, 1);
  return buf;
}

std::string der_of(const X509* x) {
  unsigned char* der = nullptr;
  int n = i2d_X509(const_cast<X509*>(x), &der);  // const only in OpenSSL 3
  if (n <= 0) return {};
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  return out;
}

bool issued_by(X509* child, X509* parent) {
  bool ok = X509_check_issued(parent, child) == X509_V_OK &&
            X509_verify(child, X509_get0_pubkey(parent)) == 1;
  ERR_clear_error();
  return ok;
}

bool is_self_signed(X509* x) {
  bool ok = X509_self_signed(x, 1) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace scoregate::tls
