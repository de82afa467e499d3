#include "doctor/evaluate.hpp"

#include <algorithm>

namespace scoregate::doctor {

namespace {

Check make(std::string id, Status status, std::string message, std::string fix = {}) {
  return Check{std::move(id), status, std::move(message), std::move(fix)};
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "(nothing)" : out;
}

bool contains(const std::vector<std::string>& items, const std::string& x) {
  return std::find(items.begin(), items.end(), x) != items.end();
}

}  // namespace

Check check_resolves(const std::string& host, const std::vector<std::string>& resolved,
                     const std::string& error) {
  if (!resolved.empty())
    return make("dns.resolve", Status::pass, host + " resolves to " + joined(resolved));
  return make("dns.resolve", Status::fail,
              host + " does not resolve" + (error.empty() ? "" : " (" + error + ")"),
              "create an A (or AAAA) record for " + host +
                  " pointing at the router's external IP (kubectl get svc -n azureml: "
                  "EXTERNAL-IP), or check the spelling of the URL");
}

Check check_expected_address(const std::string& host, const std::vector<std::string>& resolved,
                             const Expected& expected) {
  std::vector<std::string> unexpected;
  for (const auto& a : resolved)
    if (!contains(expected.addresses, a)) unexpected.push_back(a);
  const std::string want = joined(expected.addresses) + " (" + expected.source + ")";
  if (unexpected.empty())
    return make("dns.address", Status::pass, host + " points at the router: " + want);
  const std::string fix =
      "point the DNS record of " + host + " at " + joined(expected.addresses) +
      " (an A record for an IP, a CNAME for a load balancer's hostname); resolvers keep the "
      "old answer until its TTL runs out (dig " +
      host + " shows the TTL left), so wait that long after the change before checking again";
  if (unexpected.size() < resolved.size())
    return make("dns.address", Status::warn,
                host + " resolves to " + joined(resolved) + ": " + joined(unexpected) +
                    " is not the router's " + want,
                fix);
  return make("dns.address", Status::fail,
              host + " resolves to " + joined(resolved) + ", not to the router's " + want, fix);
}

Check check_version(const VersionProbe& p) {
  const std::string id = "tls.v" + p.version;
  const bool legacy = p.version == "1.0" || p.version == "1.1";
  const std::string detail = p.detail.empty() ? "" : " (" + p.detail + ")";
  const std::string what = "TLS " + p.version + (p.accepted ? " accepted" : " refused") + detail;
  if (legacy && !p.accepted) return make(id, Status::pass, what);
  if (legacy)
    return make(id, Status::fail, what + ": it is deprecated (RFC 8996)",
                "allow only TLS 1.2 and 1.3 on whatever terminates TLS for this name "
                "(scoregate itself never accepts older versions: is something else in front?)");
  if (p.accepted) return make(id, Status::pass, what);
  return make(id, Status::warn, what,
              p.version == "1.3" ? "enable TLS 1.3 on whatever terminates TLS for this name"
                                 : "enable TLS 1.2: clients without TLS 1.3 cannot connect");
}

Check check_chain(const ServedChain& c) {
  if (c.verified)
    return make("tls.chain", Status::pass, "the served chain verifies against " + c.trust);
  return make("tls.chain", Status::fail,
              "the served chain does not verify against " + c.trust + ": " + c.verify_error,
              "serve the full chain (leaf then intermediates) in the certificate file or Secret; "
              "for a private CA give doctor its root with --cacert and make sure clients trust it");
}

Check check_name(const std::string& host, bool covered, const std::string& covered_names) {
  if (covered) return make("tls.name", Status::pass, "the certificate covers " + host);
  return make("tls.name", Status::fail,
              "the certificate does not cover " + host + " (it covers: " + covered_names + ")",
              "issue a certificate with " + host +
                  " in its subjectAltName (and list it in sslCname), or use a name it covers");
}

Check check_expiry(std::time_t not_before, std::time_t not_after, std::time_t now) {
  constexpr std::time_t day = 86400;
  if (now < not_before)
    return make("tls.expiry", Status::fail, "the certificate is not valid yet",
                "check the clock of the machine that issued it, or wait until it is valid");
  if (now >= not_after)
    return make("tls.expiry", Status::fail,
                "the certificate expired " + std::to_string((now - not_after) / day) + " days ago",
                "renew it and update the certificate file or Secret; scoregate picks the "
                "renewal up by itself (README \"Certificate renewal\")");
  const auto left = (not_after - now) / day;
  if (left < 14)
    return make("tls.expiry", Status::warn,
                "the certificate expires in " + std::to_string(left) + " days",
                "renew it now (cert-manager renews 30 days ahead by default: is it running?)");
  return make("tls.expiry", Status::pass, std::to_string(left) + " days left");
}

Check check_fingerprint(const std::string& served, const Configured& configured) {
  if (!configured.unreadable.empty())
    return make("tls.fingerprint", Status::warn,
                "the configured certificate (" + configured.source +
                    ") cannot be read here: " + configured.unreadable,
                "run doctor where the certificate is readable (for an sslSecret: kubectl get "
                "secret NAME -n azureml -o yaml > DIR/NAME.yaml and router.secrets_dir: DIR in "
                "the settings), or compare the served SHA-256 " +
                    served + " by hand");
  if (!configured.fingerprint)
    return make("tls.fingerprint", Status::info, "served SHA-256 " + served);
  if (*configured.fingerprint == served)
    return make("tls.fingerprint", Status::pass,
                "the served certificate is the configured one (" + configured.source + ")");
  return make("tls.fingerprint", Status::fail,
              "the served certificate (SHA-256 " + served + ") is not the configured one (" +
                  configured.source + ", SHA-256 " + *configured.fingerprint + ")",
              "the renewal did not reach the router: see reloads.last_error in the admin "
              "listener's /status and the router's log for why it was refused, fix that, "
              "then kill -HUP or POST /-/reload");
}

}  // namespace scoregate::doctor
