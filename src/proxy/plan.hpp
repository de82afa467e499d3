// What a worker needs to proxy requests in one settings generation: the route table plus,
// for each deployment, its long-lived state (proxy/deployments.hpp) and its request settings.
// Immutable once built by DeploymentRegistry::build(); a request keeps the plan it started
// with (ARCHITECTURE.md "Threads, snapshots and reloads").
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/deployments.hpp"
#include "routing/routes.hpp"
#include "settings/config.hpp"

namespace scoregate::proxy {

struct DeploymentPlan {
  std::shared_ptr<DeploymentState> state;
  settings::RequestSettings request_settings;
  settings::UpstreamProtocol protocol = settings::UpstreamProtocol::http1;
};

struct EndpointPlan {
  std::vector<DeploymentPlan> deployments;  // same order as the route's deployments
};

struct ProxyPlan {
  explicit ProxyPlan(const settings::Config& config) : routes(config) {}
  routing::RouteTable routes;
  std::vector<EndpointPlan> endpoints;  // parallel to routes.endpoints()
  bool tls = true;
  bool access_log = true;
  std::uint64_t mirror_max_body = 1 << 20;
  // The client TLS context for `protocol: h2` deployments (null when none has it).
  std::shared_ptr<SSL_CTX> upstream_tls;
};

}  // namespace scoregate::proxy
