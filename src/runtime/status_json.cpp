// GET /status: the running process as JSON (README "Admin listener"). Never a protected
// setting or a key: protected values show as "(protected)", session tickets by key id only.
#include <nlohmann/json.hpp>

#include <ctime>

#include "core/time.hpp"
#include "runtime/admin_view.hpp"

namespace scoregate::runtime {

namespace {

// The certificate's source by setting: PEM paths are always protected, sslSecret when given so.
std::string certificate_source(const settings::Config& cfg) {
  if (cfg.extension.ssl_secret.empty()) return "sslCertPemFile/sslKeyPemFile (protected)";
  return "sslSecret " +
         (cfg.is_protected("sslSecret") ? std::string("(protected)") : cfg.extension.ssl_secret);
}

nlohmann::json certificate_json(const tls::CertificateSummary& s, const settings::Config& cfg) {
  return {{"subject", s.subject},
          {"issuer", s.issuer},
          {"dns_names", s.dns_names},
          {"ip_addresses", s.ip_addresses},
          {"not_before", iso8601_utc(s.not_before)},
          {"not_after", iso8601_utc(s.not_after)},
          {"days_left", (s.not_after - std::time(nullptr)) / 86400},
          {"fingerprint_sha256", s.fingerprint_sha256},
          {"key", s.key_description},
          // a setting given as protected is never shown, whatever it is
          {"sslCname", cfg.is_protected("sslCname") ? "(protected)" : cfg.extension.ssl_cname},
          {"source", certificate_source(cfg)}};
}

// Which keys seal session tickets: replicas that share a key file show the same key id (the
// first bytes of the key's name, which every ticket carries anyway; never key bytes).
nlohmann::json session_tickets_json() {
  const auto& keys = tls::process_ticket_keys().current();
  static const char* hex = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < 4; ++i) {
    id += hex[keys.keys[0].name[i] >> 4];
    id += hex[keys.keys[0].name[i] & 15];
  }
  return {
      {"keys", keys.from_file ? "router.session_ticket_key_file" : "in memory, rotated every 12 h"},
      {"count", keys.count},
      {"encrypting_key_id", id}};
}

nlohmann::json deployment_json(const std::string& name, unsigned traffic,
                               const proxy::DeploymentPlan& d) {
  nlohmann::json dj = {
      {"name", name}, {"traffic", traffic}, {"queue_length", d.state->gate->queue_length()}};
  auto& ts = dj["targets"] = nlohmann::json::array();
  for (const auto& t : d.state->gate->view())
    ts.push_back({{"address", t.address},
                  {"ready", t.ready},
                  {"in_flight", t.in_flight},
                  {"ejected", t.ejected}});
  return dj;
}

nlohmann::json endpoints_json(const proxy::ProxyPlan& plan) {
  auto eps = nlohmann::json::array();
  for (std::size_t i = 0; i < plan.endpoints.size(); ++i) {
    const auto& route = plan.routes.endpoints()[i];
    nlohmann::json e = {{"name", route.name},
                        {"auth_mode", route.auth == settings::AuthMode::key ? "key" : "none"}};
    auto& ds = e["deployments"] = nlohmann::json::array();
    for (std::size_t k = 0; k < route.deployments.size(); ++k)
      ds.push_back(deployment_json(route.deployments[k], route.traffic[k],
                                   plan.endpoints[i].deployments[k]));
    eps.push_back(std::move(e));
  }
  return eps;
}

}  // namespace

std::string AdminView::status_json() const {
  const auto& current = process_.current();
  const auto& reloads = process_.reloads();
  nlohmann::json j;
  j["version"] = SCOREGATE_VERSION;
  j["generation"] = current.generation;
  j["draining"] = process_.draining();
  j["ready"] = process_.ready();  // what /readyz answers
  j["mode"] = current.tls ? (process_.development() ? "development" : "https") : "insecure-http";
  j["listen"] = process_.listen();
  j["workers"] = process_.worker_counters().size();
  j["connections_open"] = process_.connections_open();
  {
    const auto t = process_.connection_totals();
    j["connection_limits"] = {
        {"max_connections", current.max_connections},
        {"max_connections_source",
         current.max_connections_auto ? "open files limit" : "router.max_connections"},
        {"refused_max_connections", t.refused_max},
        {"refused_no_descriptors", t.refused_descriptors},
        {"accept_errors", t.accept_errors},
        {"idle_closed", t.idle_closed}};
  }
  {
    std::uint64_t flight[3] = {0, 0, 0};
    for (const auto* w : process_.worker_counters())
      for (int p = 0; p < 3; ++p) flight[p] += w->in_flight[p].load(std::memory_order_relaxed);
    // HTTP/2 streams are the h2 and grpc requests in flight (README "HTTP/2 and gRPC")
    j["requests_in_flight"] = {{"h1", flight[0]}, {"h2", flight[1]}, {"grpc", flight[2]}};
  }
  j["reloads"] = {
      {"ok", reloads.ok}, {"failed", reloads.failed}, {"last_error", reloads.last_error}};
  if (current.tls) {
    j["certificate"] = certificate_json(current.tls->summary(), current.config());
    j["session_tickets"] = session_tickets_json();
  }
  j["endpoints"] = endpoints_json(*current.plan);
  // Problem texts in reloads.last_error may quote file names and values byte for byte: an
  // invalid UTF-8 byte becomes U+FFFD instead of making dump() throw (and /status fail).
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace scoregate::runtime
