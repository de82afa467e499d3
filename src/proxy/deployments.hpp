// The long-lived side of the proxy: one DeploymentState per "endpoint/deployment" (admission
// gate, statistics, probe and discovery inputs) that survives reloads, so slot counts and
// counters stay continuous while settings change, and the DeploymentRegistry that keeps them
// and builds each generation's ProxyPlan (proxy/plan.hpp) from settings.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "settings/config.hpp"
#include "upstream/gate.hpp"
#include "upstream/targets.hpp"

namespace scoregate::proxy {

struct ProxyPlan;

// Prometheus-style latency histogram with fixed bucket bounds (milliseconds).
struct LatencyHistogram {
  static constexpr std::array<double, 13> kBoundsMs = {1,   2.5, 5,    10,   25,   50,   100,
                                                       250, 500, 1000, 2500, 5000, 10000};
  std::array<std::atomic<std::uint64_t>, kBoundsMs.size() + 1> buckets{};
  std::atomic<std::uint64_t> count{0};
  std::atomic<std::uint64_t> sum_us{0};
  void observe(std::uint64_t micros);
};

struct DeploymentStats {
  std::array<std::atomic<std::uint64_t>, 6> responses{};  // [status / 100]; [0]: aborted
  std::atomic<std::uint64_t> mirrored{0}, mirror_failed{0};
  // The two statuses the status page rates on their own (a subset of `responses`): 429 (the
  // gate refused) and 504 (the model did not answer in time).
  std::atomic<std::uint64_t> status_429{0}, status_504{0};
  LatencyHistogram latency;  // router receive -> last byte sent
};

struct DeploymentState {
  std::string endpoint, name;
  std::shared_ptr<upstream::Gate> gate;
  DeploymentStats stats;
  // Control plane inputs (probes, discovery), from the latest settings.
  std::mutex control_mutex;
  std::vector<upstream::TargetSpec> discovered_specs;
  std::optional<settings::ReadinessProbe> probe;
};

// Builds plans from settings, reusing the state of deployments that still exist.
class DeploymentRegistry {
 public:
  using StateMap =
      std::map<std::string, std::shared_ptr<DeploymentState>>;  // "endpoint/deployment"

  // Resolves static targets (blocking getaddrinfo: control thread only). nullptr with
  // problems (TARGET_INVALID, TARGET_UNRESOLVED) when a static target is wrong; the
  // registry is then unchanged (a reload is all or nothing).
  std::shared_ptr<const ProxyPlan> build(const settings::Config& config, Problems& problems);
  std::vector<std::shared_ptr<DeploymentState>> all() const;

 private:
  mutable std::mutex mutex_;
  StateMap states_;
};

}  // namespace scoregate::proxy
