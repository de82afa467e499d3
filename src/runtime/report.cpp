// The admin views of the running process: /status (JSON) and /metrics (Prometheus text).
// Neither prints a protected setting or a key.
#include <nlohmann/json.hpp>

#include <ctime>
#include <sstream>

#include "core/time.hpp"
#include "runtime/server.hpp"

namespace scoregate::runtime {

namespace {

std::string label(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::uint64_t sum(const std::vector<std::unique_ptr<Worker>>& workers,
                  std::atomic<std::uint64_t> proxy::WorkerCounters::*field) {
  std::uint64_t total = 0;
  for (const auto& w : workers) total += (w->counters().*field).load(std::memory_order_relaxed);
  return total;
}

}  // namespace

std::string Server::status_json() const {
  nlohmann::json j;
  const auto& cfg = current_->config();
  j["version"] = SCOREGATE_VERSION;
  j["generation"] = current_->generation;
  j["draining"] = draining_.load();
  j["ready"] = ready();  // what /readyz answers
  j["mode"] = current_->tls ? (options_.development ? "development" : "https") : "insecure-http";
  j["listen"] = listen_text_;
  j["workers"] = workers_.size();
  j["connections_open"] = open_connections_.load();
  j["reloads"] = {{"ok", reloads_ok_}, {"failed", reloads_failed_},
                  {"last_error", last_reload_error_}};
  if (current_->tls) {
    const auto& s = current_->tls->summary();
    auto now = std::time(nullptr);
    j["certificate"] = {{"subject", s.subject},
                        {"issuer", s.issuer},
                        {"dns_names", s.dns_names},
                        {"ip_addresses", s.ip_addresses},
                        {"not_before", iso8601_utc(s.not_before)},
                        {"not_after", iso8601_utc(s.not_after)},
                        {"days_left", (s.not_after - now) / 86400},
                        {"fingerprint_sha256", s.fingerprint_sha256},
                        {"key", s.key_description},
                        // a setting given as protected is never shown, whatever it is
                        {"sslCname", cfg.is_protected("sslCname") ? "(protected)" : cfg.extension.ssl_cname},
                        {"source", cfg.extension.ssl_secret.empty()
                                       ? "sslCertPemFile/sslKeyPemFile (protected)"
                                       : "sslSecret " + (cfg.is_protected("sslSecret")
                                                             ? std::string("(protected)")
                                                             : cfg.extension.ssl_secret)}};
  }
  if (current_->tls) {
    // Which keys seal session tickets: replicas that share a key file show the same key id
    // (the first bytes of the key's name, which every ticket carries anyway; never key bytes).
    const auto& keys = tls::process_ticket_keys().current();
    static const char* hex = "0123456789abcdef";
    std::string id;
    for (std::size_t i = 0; i < 4; ++i) {
      id += hex[keys.keys[0].name[i] >> 4];
      id += hex[keys.keys[0].name[i] & 15];
    }
    j["session_tickets"] = {
        {"keys", keys.from_file ? "router.session_ticket_key_file" : "in memory, rotated every 12 h"},
        {"count", keys.count},
        {"encrypting_key_id", id}};
  }
  auto& eps = j["endpoints"] = nlohmann::json::array();
  for (std::size_t i = 0; i < current_->plan->endpoints.size(); ++i) {
    const auto& route = current_->plan->routes.endpoints()[i];
    nlohmann::json e = {{"name", route.name},
                        {"auth_mode", route.auth == settings::AuthMode::key ? "key" : "none"}};
    auto& ds = e["deployments"] = nlohmann::json::array();
    for (std::size_t k = 0; k < route.deployments.size(); ++k) {
      const auto& d = current_->plan->endpoints[i].deployments[k];
      nlohmann::json dj = {{"name", route.deployments[k]},
                           {"traffic", route.traffic[k]},
                           {"queue_length", d.state->gate->queue_length()}};
      auto& ts = dj["targets"] = nlohmann::json::array();
      for (const auto& t : d.state->gate->view())
        ts.push_back({{"address", t.address}, {"ready", t.ready}, {"in_flight", t.in_flight},
                      {"ejected", t.ejected}});
      ds.push_back(std::move(dj));
    }
    eps.push_back(std::move(e));
  }
  return j.dump(2) + "\n";
}

std::string Server::metrics_text() const {
  std::ostringstream m;
  using proxy::WorkerCounters;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    m << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n"
      << name << ' ' << v << '\n';
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    m << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n"
      << name << ' ' << v << '\n';
  };
  m << "# HELP scoregate_build_info Version of scoregate.\n# TYPE scoregate_build_info gauge\n"
    << "scoregate_build_info{version=\"" << SCOREGATE_VERSION << "\"} 1\n";
  gauge("scoregate_config_generation", "Settings generation being served.",
        static_cast<double>(current_->generation));
  m << "# HELP scoregate_reloads_total Reloads by result.\n# TYPE scoregate_reloads_total counter\n"
    << "scoregate_reloads_total{result=\"ok\"} " << reloads_ok_ << '\n'
    << "scoregate_reloads_total{result=\"failed\"} " << reloads_failed_ << '\n';
  gauge("scoregate_connections_open", "Client connections open.", open_connections_.load());
  counter("scoregate_requests_total", "Requests received.", sum(workers_, &WorkerCounters::requests));
  m << "# HELP scoregate_router_errors_total Responses generated by the router itself, by class.\n"
       "# TYPE scoregate_router_errors_total counter\n";
  for (int c = 4; c <= 5; ++c) {
    std::uint64_t v = 0;
    for (const auto& w : workers_) v += w->counters().router_errors[c].load(std::memory_order_relaxed);
    m << "scoregate_router_errors_total{class=\"" << c << "xx\"} " << v << '\n';
  }
  counter("scoregate_upstream_connects_total", "New connections to model targets.",
          sum(workers_, &WorkerCounters::upstream_connects));
  counter("scoregate_upstream_connect_failures_total", "Failed connects to model targets.",
          sum(workers_, &WorkerCounters::upstream_connect_failures));
  counter("scoregate_upstream_reused_total", "Requests sent on a kept-alive model connection.",
          sum(workers_, &WorkerCounters::upstream_reused));
  counter("scoregate_upstream_timeouts_total", "Requests that hit request_timeout_ms.",
          sum(workers_, &WorkerCounters::upstream_timeouts));
  counter("scoregate_request_body_bytes_total", "Request body bytes received.",
          sum(workers_, &WorkerCounters::bytes_in));
  counter("scoregate_response_bytes_total", "Response bytes sent.",
          sum(workers_, &WorkerCounters::bytes_out));
  if (current_->tls) {
    const auto& s = current_->tls->summary();
    gauge("scoregate_certificate_not_after_seconds", "Expiry of the served certificate (Unix time).",
          static_cast<double>(s.not_after));
    gauge("scoregate_certificate_expires_in_seconds", "Seconds until the served certificate expires.",
          static_cast<double>(s.not_after - std::time(nullptr)));
  }
  m << "# HELP scoregate_responses_total Responses by deployment and status class.\n"
       "# TYPE scoregate_responses_total counter\n";
  auto states = registry_.all();
  for (const auto& d : states)
    for (int c = 0; c < 6; ++c) {
      auto v = d->stats.responses[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
      if (!v) continue;
      m << "scoregate_responses_total{endpoint=\"" << label(d->endpoint) << "\",deployment=\""
        << label(d->name) << "\",code=\"" << (c ? std::to_string(c) + "xx" : "aborted") << "\"} "
        << v << '\n';
    }
  m << "# HELP scoregate_request_duration_seconds Time from request head to last response byte.\n"
       "# TYPE scoregate_request_duration_seconds histogram\n";
  for (const auto& d : states) {
    const auto& h = d->stats.latency;
    std::string labels = "endpoint=\"" + label(d->endpoint) + "\",deployment=\"" + label(d->name) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i].load(std::memory_order_relaxed);
      m << "scoregate_request_duration_seconds_bucket{" << labels << ",le=\"";
      if (i < proxy::LatencyHistogram::kBoundsMs.size()) m << proxy::LatencyHistogram::kBoundsMs[i] / 1000.0;
      else m << "+Inf";
      m << "\"} " << cumulative << '\n';
    }
    m << "scoregate_request_duration_seconds_sum{" << labels << "} "
      << static_cast<double>(h.sum_us.load()) / 1e6 << '\n'
      << "scoregate_request_duration_seconds_count{" << labels << "} " << h.count.load() << '\n';
  }
  m << "# HELP scoregate_deployment_queue_length Requests waiting for a slot.\n"
       "# TYPE scoregate_deployment_queue_length gauge\n";
  for (const auto& d : states)
    m << "scoregate_deployment_queue_length{endpoint=\"" << label(d->endpoint) << "\",deployment=\""
      << label(d->name) << "\"} " << d->gate->queue_length() << '\n';
  m << "# HELP scoregate_deployment_rejected_total Requests refused with 429, by reason.\n"
       "# TYPE scoregate_deployment_rejected_total counter\n";
  for (const auto& d : states) {
    std::string labels = "endpoint=\"" + label(d->endpoint) + "\",deployment=\"" + label(d->name) + "\"";
    m << "scoregate_deployment_rejected_total{" << labels << ",reason=\"queue_full\"} "
      << d->gate->rejected_queue_full() << '\n'
      << "scoregate_deployment_rejected_total{" << labels << ",reason=\"queue_timeout\"} "
      << d->gate->rejected_timeout() << '\n';
  }
  m << "# HELP scoregate_target_ready Whether a target receives traffic (1) or not (0).\n"
       "# TYPE scoregate_target_ready gauge\n"
       "# HELP scoregate_target_in_flight Requests holding a slot on a target.\n"
       "# TYPE scoregate_target_in_flight gauge\n";
  for (const auto& d : states)
    for (const auto& t : d->gate->view()) {
      std::string labels = "endpoint=\"" + label(d->endpoint) + "\",deployment=\"" + label(d->name) +
                           "\",target=\"" + label(t.address) + "\"";
      m << "scoregate_target_ready{" << labels << "} " << (t.ready && !t.ejected ? 1 : 0) << '\n'
        << "scoregate_target_in_flight{" << labels << "} " << t.in_flight << '\n';
    }
  m << "# HELP scoregate_mirror_total Mirrored copies by result.\n# TYPE scoregate_mirror_total counter\n";
  for (const auto& d : states) {
    std::string labels = "endpoint=\"" + label(d->endpoint) + "\",deployment=\"" + label(d->name) + "\"";
    m << "scoregate_mirror_total{" << labels << ",result=\"ok\"} " << d->stats.mirrored.load() << '\n'
      << "scoregate_mirror_total{" << labels << ",result=\"failed\"} " << d->stats.mirror_failed.load() << '\n';
  }
  return m.str();
}

}  // namespace scoregate::runtime
