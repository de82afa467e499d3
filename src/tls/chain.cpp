#include "tls/chain.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include "tls/file_io.hpp"
#include "tls/openssl_util.hpp"
#include "tls/parse.hpp"

namespace scoregate::tls {

namespace {

constexpr const char* kChainFix =
    "append the intermediate certificate(s) from your CA after the leaf (cat leaf.pem "
    "intermediate.pem > cert.pem); if a private root issued the leaf itself, put that root in "
    "the Secret as ca.crt (scoregate secret create --ca-file root.pem) or name it in "
    "router.trusted_ca_file (scoregate cert check --ca-file root.pem)";

bool contains(const std::vector<std::size_t>& v, std::size_t i) {
  return std::find(v.begin(), v.end(), i) != v.end();
}

std::string numbered_subjects(const std::vector<X509Ptr>& certs,
                              const std::vector<std::size_t>& order) {
  std::string out;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(i + 1) + ". '" + subject_of(certs[order[i]].get()) + "'";
  }
  return out;
}

// The system store, built once per process: its default file lookup parses the whole CA
// bundle (about 60 ms), far too slow for every check and reload. The trust store of the OS
// changing needs a restart to be seen, as with most servers. Never freed (reachable).
X509_STORE* system_store() {
  static X509_STORE* store = [] {
    X509_STORE* s = X509_STORE_new();
    if (s) use_system_trust(s);
    ERR_clear_error();
    return s;
  }();
  return store;
}

// The roots the user names for private PKI (router.trusted_ca_file / --ca-file).
std::vector<X509Ptr> private_roots(const CheckOptions& options, Problems& problems) {
  if (options.trusted_ca_file.empty()) return {};
  const char* fix =
      "point router.trusted_ca_file (or cert check --ca-file) at a readable PEM file holding "
      "your private root certificate(s)";
  FileRead r = read_small_file(options.trusted_ca_file, 16u << 20);
  if (!r.bytes) {
    problems.error("CERT_CA_FILE_INVALID", "router.trusted_ca_file",
                   "cannot read '" + options.trusted_ca_file + "' (" + r.reason + ")", fix);
    return {};
  }
  Problems parse_problems;
  auto roots = parse_certificates(*r.bytes, "router.trusted_ca_file", parse_problems);
  if (roots.empty())
    problems.error("CERT_CA_FILE_INVALID", "router.trusted_ca_file",
                   "'" + options.trusted_ca_file + "' holds no certificate", fix);
  return roots;
}

// The Secret's ca.crt: empty means none (cert-manager leaves it empty when it has no CA).
std::vector<X509Ptr> secret_roots(const Material& material, Problems& problems) {
  if (material.ca_bytes.find_first_not_of(" \t\r\n") == std::string::npos) return {};
  Problems parse_problems;
  auto roots = parse_certificates(material.ca_bytes, material.ca_label, parse_problems);
  if (roots.empty())
    problems.error("CERT_CA_FILE_INVALID", material.ca_label,
                   "holds no certificate (PEM or DER) although it is not empty",
                   "put the PEM certificate of your private root there (kubectl create secret "
                   "... --from-file=ca.crt=root.pem), or remove the key from the Secret");
  return roots;
}

// What the checks treat as trusted: the system store and the self-signed certificates of
// router.trusted_ca_file and the Secret's ca.crt. An intermediate in those files is kept apart:
// it completes the chain only for clients that trust it directly (a warning says so).
struct Anchors {
  std::vector<X509Ptr> private_roots;
  std::vector<X509Ptr> private_intermediates;

  void add(X509Ptr cert) {
    (is_self_signed(cert.get()) ? private_roots : private_intermediates).push_back(std::move(cert));
  }

  // A non-root certificate of ca.crt / router.trusted_ca_file that issued cert, or nullptr.
  X509* intermediate_issuer_of(X509* cert) const {
    for (const auto& c : private_intermediates)
      if (issued_by(cert, c.get())) return c.get();
    return nullptr;
  }

  // Trusted certificates whose subject is `name`.
  std::vector<X509Ptr> with_subject(const X509_NAME* name) const {
    std::vector<X509Ptr> out;
    for (const auto& r : private_roots)
      if (X509_NAME_cmp(X509_get_subject_name(r.get()), name) == 0) out.push_back(up_ref(r.get()));
    X509_STORE* store = system_store();
    X509_STORE_CTX* ctx = store ? X509_STORE_CTX_new() : nullptr;
    if (ctx && X509_STORE_CTX_init(ctx, store, nullptr, nullptr) == 1) {
      if (STACK_OF(X509)* found = X509_STORE_CTX_get1_certs(ctx, name)) {
        for (int i = 0, n = static_cast<int>(sk_X509_num(found)); i < n; ++i)
          out.push_back(up_ref(sk_X509_value(found, i)));
        sk_X509_pop_free(found, X509_free);
      }
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return out;
  }

  bool has_issuer_of(X509* cert) const {
    for (auto& candidate : with_subject(X509_get_issuer_name(cert)))
      if (issued_by(cert, candidate.get())) return true;
    return false;
  }

  bool has_root(X509* root) const {
    for (auto& candidate : with_subject(X509_get_subject_name(root)))
      if (EVP_PKEY* theirs = X509_get0_pubkey(candidate.get()), *ours = X509_get0_pubkey(root);
          theirs && ours && EVP_PKEY_eq(theirs, ours) == 1)
        return true;
    return false;
  }
};

}  // namespace

ChainLayout layout_chain(const std::vector<X509Ptr>& certs, std::size_t leaf) {
  ChainLayout layout;
  layout.leaf = leaf;
  X509* current = certs[leaf].get();
  while (!is_self_signed(current)) {
    std::size_t next = certs.size();
    for (std::size_t j = 0; j < certs.size() && next == certs.size(); ++j)
      if (j != leaf && !contains(layout.chain, j) && issued_by(current, certs[j].get())) next = j;
    if (next == certs.size()) break;
    layout.chain.push_back(next);
    current = certs[next].get();
  }
  for (std::size_t j = 0; j < certs.size(); ++j)
    if (j != leaf && !contains(layout.chain, j)) layout.extras.push_back(j);
  return layout;
}

void check_chain_order(const std::vector<X509Ptr>& certs, const ChainLayout& layout,
                       const std::string& label, Problems& problems) {
  std::vector<std::size_t> wanted{layout.leaf};
  wanted.insert(wanted.end(), layout.chain.begin(), layout.chain.end());
  std::vector<std::size_t> in_file = wanted;
  std::sort(in_file.begin(), in_file.end());
  if (layout.leaf == 0 && in_file == wanted) return;
  std::string what = layout.leaf == 0
                         ? "the certificates after the leaf are not in issuing order"
                         : "the certificate that matches the key is number " +
                               std::to_string(layout.leaf + 1) + " in the file, not the first";
  what += "; the file has " + numbered_subjects(certs, in_file);
  problems.error("CERT_CHAIN_ORDER", label, what,
                 "list the leaf first, then each certificate's issuer (intermediate(s), "
                 "optionally the root): " +
                     numbered_subjects(certs, wanted));
}

void check_extra_certs(const std::vector<X509Ptr>& certs, const ChainLayout& layout,
                       const std::string& label, Problems& problems) {
  if (layout.extras.empty()) return;
  std::string list;
  for (std::size_t i : layout.extras)
    list += (list.empty() ? "'" : ", '") + subject_of(certs[i].get()) + "'";
  problems.warning(
      "CERT_EXTRA_CERTS", label,
      std::to_string(layout.extras.size()) +
          " certificate(s) are not part of the leaf's chain and will not be sent: " + list,
      "remove them; keep the leaf, its intermediate(s) and optionally the root");
}

namespace {

// The chain's last certificate is not a root and its issuer is not known here. When the leaf
// itself is that certificate, the intermediate is almost always what is missing: an error.
// When the file holds leaf and intermediate(s), the chain is complete up to a root that is
// not in the file, which is what a private CA hands out: a warning naming the root
// (docs/certificate-codes.md, CERT_CHAIN_PRIVATE_ROOT).
void report_unknown_issuer(X509* last, bool leaf_only, const std::string& label,
                           Problems& problems) {
  const std::string issuer = name_rfc2253(X509_get_issuer_name(last));
  if (leaf_only) {
    problems.error("CERT_CHAIN_INCOMPLETE", label,
                   "the issuer of '" + subject_of(last) + "', '" + issuer +
                       "', is neither in the file nor a trusted root, so clients cannot build "
                       "the chain",
                   kChainFix);
    return;
  }
  problems.warning(
      "CERT_CHAIN_PRIVATE_ROOT", label,
      "the chain ends at '" + subject_of(last) + "', issued by '" + issuer +
          "', which is neither in the system trust store nor in the Secret's ca.crt or "
          "router.trusted_ca_file: if it is your private root, clients must trust '" +
          issuer + "' to connect; if it is an intermediate, add it to the file after '" +
          subject_of(last) + "'",
      "give clients that root (curl --cacert root.pem); to make this warning go away, put it "
      "in the Secret as ca.crt (scoregate secret create --ca-file root.pem), name it in "
      "router.trusted_ca_file, or pass it to scoregate cert check as --ca-file root.pem");
}

// The issuer of the chain's last certificate is in ca.crt or router.trusted_ca_file, but it is
// an intermediate. Clients that trust it directly (curl, Go) connect; clients that trust only
// the root (Python, Java by default) cannot build the chain, because the router sends only the
// certificate file. A DER certificate (one certificate per file) can only be served this way.
void report_intermediate_anchor(X509* last, X509* intermediate, const std::string& label,
                                Problems& problems) {
  const std::string name = subject_of(intermediate);
  problems.warning(
      "CERT_CHAIN_ANCHOR_NOT_ROOT", label,
      "the issuer of '" + subject_of(last) + "', '" + name +
          "', is an intermediate from the Secret's ca.crt or router.trusted_ca_file, which is "
          "not sent: only clients that trust '" +
          name + "' itself can build the chain",
      "append '" + name +
          "' (and any intermediate above it) to the certificate file after the leaf, so "
          "clients that trust only the root connect too");
}

}  // namespace

void check_chain_trust(const std::vector<X509Ptr>& certs, const ChainLayout& layout,
                       const CheckOptions& options, const Material& material, Problems& problems) {
  const std::string& label = material.cert_label;
  Anchors anchors;
  for (auto& cert : private_roots(options, problems)) anchors.add(std::move(cert));
  for (auto& cert : secret_roots(material, problems)) anchors.add(std::move(cert));
  X509* last = certs[layout.chain.empty() ? layout.leaf : layout.chain.back()].get();
  if (!is_self_signed(last)) {
    if (anchors.has_issuer_of(last)) return;
    if (X509* trusted_intermediate = anchors.intermediate_issuer_of(last))
      report_intermediate_anchor(last, trusted_intermediate, label, problems);
    else
      report_unknown_issuer(last, layout.chain.empty(), label, problems);
    return;
  }
  if (last == certs[layout.leaf].get()) {
    problems.warning(
        "CERT_SELF_SIGNED", label,
        options.development
            ? "the certificate is self-signed (expected in development only)"
            : "the certificate is self-signed: clients reject it unless told to trust "
              "this very certificate (development only)",
        "for production use a certificate issued by a CA; for development, "
        "scoregate cert dev makes a dev CA clients can trust (curl --cacert dev-ca.pem)");
    return;
  }
  if (anchors.has_root(last)) return;
  problems.warning(
      "CERT_UNTRUSTED_ROOT", label,
      options.development
          ? "the chain ends at '" + subject_of(last) +
                "', the development CA, which is not in the system trust store (expected in "
                "development; clients must trust dev-ca.pem)"
          : "the chain ends at root '" + subject_of(last) +
                "', which is neither in the system trust store nor in the Secret's ca.crt or "
                "router.trusted_ca_file (development only)",
      options.development
          ? "give clients the dev CA: curl --cacert dev-ca.pem"
          : "use a certificate from a publicly trusted CA, or, for private PKI, put the root in "
            "the Secret as ca.crt or name it in router.trusted_ca_file, and install it on every "
            "client");
}

}  // namespace scoregate::tls
