// GET /status: the running process as JSON (README "Admin listener"). Never a protected
// setting or a key: protected values show as "(protected)", session tickets by key id only.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "core/time.hpp"
#include "runtime/admin_view.hpp"

namespace scoregate::runtime {

namespace {

constexpr std::size_t kRecentErrorsShown = 20;

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
          {"chain_subjects", s.chain_subjects},
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

// The deployment's cumulative counters and latency buckets: the ones /metrics exposes, so the
// status page computes rates and percentiles from deltas between polls (README "Status page").
nlohmann::json deployment_counters_json(const proxy::DeploymentStats& st) {
  auto load = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  nlohmann::json responses = nlohmann::json::object();
  for (std::size_t c = 0; c < st.responses.size(); ++c)
    responses[c ? std::to_string(c) + "xx" : "aborted"] = load(st.responses[c]);
  auto buckets = nlohmann::json::array();  // per bucket, not cumulative; the last is +Inf
  for (const auto& b : st.latency.buckets) buckets.push_back(load(b));
  return {{"responses", std::move(responses)},
          {"status_429", load(st.status_429)},
          {"status_504", load(st.status_504)},
          {"mirrored", load(st.mirrored)},
          {"mirror_failed", load(st.mirror_failed)},
          {"latency_buckets", std::move(buckets)},
          {"latency_count", load(st.latency.count)},
          {"latency_sum_ms", static_cast<double>(load(st.latency.sum_us)) / 1000.0}};
}

nlohmann::json deployment_json(const std::string& name, unsigned traffic,
                               const proxy::DeploymentPlan& d) {
  const auto& gate = *d.state->gate;
  nlohmann::json dj = {
      {"name", name},
      {"traffic", traffic},
      {"queue_length", gate.queue_length()},
      {"slots_per_target", d.request_settings.max_concurrent_requests_per_instance},
      {"rejected_queue_full", gate.rejected_queue_full()},
      {"rejected_queue_timeout", gate.rejected_timeout()},
      {"counters", deployment_counters_json(d.state->stats)}};
  auto& ts = dj["targets"] = nlohmann::json::array();
  for (const auto& t : gate.view())
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
    e["mirror"] = nullptr;
    if (route.mirror_deployment >= 0)
      e["mirror"] = {
          {"deployment", route.deployments[static_cast<std::size_t>(route.mirror_deployment)]},
          {"percent", route.mirror_percent}};
    eps.push_back(std::move(e));
  }
  return eps;
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// last_result is "ok", "failed" or "none": reload.cpp clears last_error on success.
nlohmann::json reloads_json(const ReloadStats& r) {
  nlohmann::json j = {{"ok", r.ok.value},
                      {"failed", r.failed.value},
                      {"last_error", r.last_error},
                      {"last_result", !r.last_error.empty() ? "failed"
                                      : r.ok.value          ? "ok"
                                                            : "none"},
                      {"last_at", nullptr}};
  const auto last = std::max(r.ok.at, r.failed.at);
  if (last.time_since_epoch().count() != 0)
    j["last_at"] = iso8601_utc(std::chrono::system_clock::to_time_t(last));
  return j;
}

// The newest router errors of all workers, newest first: status, code, endpoint, deployment and
// time only (proxy/recent_errors.hpp says why never more).
nlohmann::json router_errors_json(const std::vector<const proxy::WorkerCounters*>& workers) {
  std::vector<proxy::RecentErrors::Entry> all;
  std::uint64_t by_class[6] = {};
  for (const auto* w : workers) {
    for (auto& e : w->recent_errors.entries()) all.push_back(std::move(e));
    for (int c = 0; c < 6; ++c) by_class[c] += w->router_errors[c].load(std::memory_order_relaxed);
  }
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a.unix_ms > b.unix_ms; });
  if (all.size() > kRecentErrorsShown) all.resize(kRecentErrorsShown);
  auto recent = nlohmann::json::array();
  for (const auto& e : all)
    recent.push_back({{"time_unix_ms", e.unix_ms},
                      {"status", e.status},
                      {"code", e.code},
                      {"endpoint", e.endpoint},
                      {"deployment", e.deployment}});
  return {{"4xx", by_class[4]}, {"5xx", by_class[5]}, {"recent", std::move(recent)}};
}

}  // namespace

std::string AdminView::status_json() const {
  const auto& current = process_.current();
  const auto& reloads = process_.reloads();
  nlohmann::json j;
  j["version"] = SCOREGATE_VERSION;
  j["time_unix_ms"] = unix_ms(std::chrono::system_clock::now());  // rates divide by its deltas
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
  j["reloads"] = reloads_json(reloads);
  j["router_errors"] = router_errors_json(process_.worker_counters());
  j["latency_bounds_ms"] = proxy::LatencyHistogram::kBoundsMs;
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
