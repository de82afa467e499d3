// One generation of the router's configuration: validated settings, the proxy plan and the
// TLS context. Built and checked off the hot path, then published whole to every worker
// (ARCHITECTURE.md "Threads, snapshots and reloads"); connections and requests keep the generation
// they started with.
#pragma once

#include <cstdint>
#include <memory>

#include "http/http1_connection.hpp"
#include "proxy/plan.hpp"
#include "settings/settings.hpp"
#include "tls/context.hpp"
#include "tls/ticket_keys.hpp"

namespace scoregate::runtime {

struct Snapshot {
  std::uint64_t generation = 0;
  std::shared_ptr<const settings::ValidatedSettings> settings;
  std::shared_ptr<const proxy::ProxyPlan> plan;
  std::shared_ptr<const tls::ServerContext> tls;  // nullptr: plain HTTP
  // router.session_ticket_key_file's keys; nullptr: keys made in memory (tls/ticket_keys.hpp)
  std::shared_ptr<const std::vector<tls::TicketKey>> ticket_keys;
  http::ServerLimits limits;
  // router.max_connections, or when it is 0 the limit derived from the open-files limit at start
  // (runtime::connection_limit_for(), README "Workers and limits").
  std::uint32_t max_connections = 1;
  bool max_connections_auto = false;

  const settings::Config& config() const { return settings->config(); }
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace scoregate::runtime
