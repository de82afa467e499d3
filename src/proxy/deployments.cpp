#include "proxy/deployments.hpp"

#include "proxy/plan.hpp"
#include "upstream/discovery.hpp"
#include "upstream/h2_client.hpp"

namespace scoregate::proxy {

void LatencyHistogram::observe(std::uint64_t micros) {
  double ms = static_cast<double>(micros) / 1000.0;
  std::size_t i = 0;
  while (i < kBoundsMs.size() && ms > kBoundsMs[i]) ++i;
  buckets[i].fetch_add(1, std::memory_order_relaxed);
  count.fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(micros, std::memory_order_relaxed);
}

namespace {

upstream::GateSettings gate_settings(const settings::RequestSettings& rs) {
  upstream::GateSettings g;
  g.slots_per_target = rs.max_concurrent_requests_per_instance;
  g.max_queue_length = rs.max_queue_length;
  g.max_queue_wait = std::chrono::milliseconds(rs.max_queue_wait_ms);
  return g;
}

// Static targets resolved now; an existing Target with the same address keeps its
// identity (in-flight count, pooled connections, readiness).
std::vector<upstream::TargetPtr> static_targets(const settings::Deployment& d,
                                                const std::vector<upstream::TargetPtr>& current,
                                                std::vector<upstream::TargetSpec>& discovered,
                                                Problems& problems) {
  std::vector<upstream::TargetPtr> out;
  for (const auto& text : d.targets) {
    auto spec = upstream::parse_target(text);
    if (!spec) {
      problems.error("TARGET_INVALID", d.where, "target '" + text + "' is not HOST:PORT",
                     "write targets as 10.0.0.5:5001, [fd00::5]:5001 or dns:NAME:PORT");
      continue;
    }
    if (spec->discovered) {
      discovered.push_back(*spec);
      continue;
    }
    std::string error;
    for (const auto& ep : upstream::resolve_blocking(*spec, error)) {
      auto address = upstream::format_endpoint(ep);
      upstream::TargetPtr t;
      for (const auto& c : current)
        if (c->address == address) t = c;
      if (!t) {
        t = std::make_shared<upstream::Target>();
        t->address = address;
        t->endpoint = ep;
        t->id = upstream::next_target_id();
      }
      out.push_back(std::move(t));
    }
    if (!error.empty())
      problems.error(
          "TARGET_UNRESOLVED", d.where,
          "target '" + text + "' of deployment '" + d.name + "' does not resolve (" + error + ")",
          "use an IP address, a name this host resolves, or dns:NAME:PORT for names "
          "that appear later");
  }
  return out;
}

// One deployment's targets, resolved in pass 1 before any live state changes.
struct Resolved {
  std::string key;                            // "endpoint/deployment"
  std::shared_ptr<DeploymentState> existing;  // null: a new deployment
  std::vector<upstream::TargetPtr> targets;
  std::vector<upstream::TargetSpec> discovered;
};

// Pass 1: resolve every deployment's static targets without touching live state, so a
// reload with one bad target changes nothing (problems says what failed).
std::vector<Resolved> resolve_all(const settings::Config& config,
                                  const DeploymentRegistry::StateMap& states, Problems& problems) {
  std::vector<Resolved> resolved;
  for (const auto& e : config.endpoints)
    for (const auto& d : e.deployments) {
      Resolved r;
      r.key = e.name + "/" + d.name;
      if (auto it = states.find(r.key); it != states.end()) r.existing = it->second;
      r.targets = static_targets(
          d, r.existing ? r.existing->gate->targets() : std::vector<upstream::TargetPtr>{},
          r.discovered, problems);
      resolved.push_back(std::move(r));
    }
  return resolved;
}

std::shared_ptr<DeploymentState> new_state(const settings::Endpoint& e,
                                           const settings::Deployment& d, Resolved& r) {
  // dns: targets resolved once now, so a new deployment does not start empty; discovery
  // keeps them current from then on.
  if (!r.discovered.empty()) {
    std::vector<boost::asio::ip::tcp::endpoint> found;
    for (const auto& spec : r.discovered) {
      std::string error;
      for (const auto& ep : upstream::resolve_blocking(spec, error)) found.push_back(ep);
    }
    r.targets = upstream::merge_discovered(r.targets, found);
  }
  auto state = std::make_shared<DeploymentState>();
  state->endpoint = e.name;
  state->name = d.name;
  state->gate = std::make_shared<upstream::Gate>(r.key, gate_settings(d.request_settings),
                                                 std::move(r.targets));
  return state;
}

void update_state(DeploymentState& state, const settings::Deployment& d, Resolved& r) {
  state.gate->update_settings(gate_settings(d.request_settings));
  if (!r.discovered.empty())  // keep what discovery found until it looks again
    for (const auto& t : state.gate->targets())
      if (t->discovered) r.targets.push_back(t);
  state.gate->set_targets(std::move(r.targets));
}

// Pass 2: commit. Existing deployments keep their state (gate, stats, targets); the plan
// gets one DeploymentPlan per deployment, in the route table's order.
DeploymentRegistry::StateMap commit_all(const settings::Config& config,
                                        std::vector<Resolved>& resolved, ProxyPlan& plan) {
  DeploymentRegistry::StateMap next;
  std::size_t i = 0;
  for (const auto& e : config.endpoints) {
    EndpointPlan ep;
    for (const auto& d : e.deployments) {
      auto& r = resolved[i++];
      auto state = r.existing;
      if (state)
        update_state(*state, d, r);
      else
        state = new_state(e, d, r);
      {
        std::lock_guard control(state->control_mutex);
        state->discovered_specs = r.discovered;
        state->probe = d.readiness_probe;
      }
      ep.deployments.push_back({state, d.request_settings, d.protocol});
      next[r.key] = state;
    }
    plan.endpoints.push_back(std::move(ep));
  }
  return next;
}

// The client TLS context of `protocol: h2` deployments (README "HTTP/2 and gRPC"): the models'
// certificates are verified against the system store and router.trusted_ca_file.
std::shared_ptr<SSL_CTX> upstream_tls_context(const settings::Config& config, Problems& problems) {
  const settings::Deployment* first = nullptr;
  for (const auto& e : config.endpoints)
    for (const auto& d : e.deployments)
      if (!first && d.protocol == settings::UpstreamProtocol::h2) first = &d;
  if (!first) return nullptr;
  std::string error;
  auto ctx = upstream::make_client_tls_context(config.router.trusted_ca_file, error);
  if (!ctx)
    problems.error("UPSTREAM_TLS_UNAVAILABLE", first->where,
                   "deployment '" + first->name +
                       "' has protocol: h2 but no TLS client context "
                       "could be made for it (" +
                       error + ")",
                   "fix router.trusted_ca_file (a PEM file of CA certificates) or use "
                   "protocol: h2c for a model without TLS");
  return ctx;
}

}  // namespace

std::shared_ptr<const ProxyPlan> DeploymentRegistry::build(const settings::Config& config,
                                                           Problems& problems) {
  auto plan = std::make_shared<ProxyPlan>(config);
  plan->tls = !config.extension.allow_insecure_connections;
  plan->access_log = config.router.access_log;
  plan->upstream_tls = upstream_tls_context(config, problems);
  std::lock_guard lock(mutex_);
  auto resolved = resolve_all(config, states_, problems);
  if (problems.has_errors()) return nullptr;
  states_ = commit_all(config, resolved, *plan);
  return plan;
}

std::vector<std::shared_ptr<DeploymentState>> DeploymentRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<DeploymentState>> out;
  for (const auto& [key, s] : states_) out.push_back(s);
  return out;
}

}  // namespace scoregate::proxy
