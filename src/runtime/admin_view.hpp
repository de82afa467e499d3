// What the admin listener reads of the running process: /readyz, /status and /metrics, built
// from the current snapshot and the counters, and the reload POST /-/reload asks for.
// AdminView implements admin::AdminModel from ProcessView, a narrow read-only interface onto
// the process state (runtime::Server implements it), so the views cannot change what they show.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_server.hpp"
#include "proxy/plan.hpp"
#include "proxy/proxy.hpp"
#include "runtime/snapshot.hpp"

namespace scoregate::runtime {

// A count that remembers when it last went up (reload.cpp counts with ++), so /status can say
// when the last reload happened without a second record of it.
struct TimedCount {
  TimedCount(std::uint64_t v = 0) : value(v) {}  // NOLINT(google-explicit-constructor)
  TimedCount& operator++() {
    ++value;
    at = std::chrono::system_clock::now();
    return *this;
  }
  std::uint64_t value = 0;
  std::chrono::system_clock::time_point at{};  // epoch: never
};

// Reloads since the start, for /status (`reloads`) and scoregate_reloads_total.
struct ReloadStats {
  TimedCount ok, failed;
  std::string last_error;  // "" after a reload that went through
};

// The acceptor's refusals summed over the workers (runtime::ConnectionCounters).
struct ConnectionTotals {
  std::uint64_t accept_errors = 0, refused_max = 0, refused_descriptors = 0, idle_closed = 0;
};

// The process state the admin views read. Control thread only.
class ProcessView {
 public:
  virtual ~ProcessView() = default;
  virtual const Snapshot& current() const = 0;  // the generation being served
  virtual bool ready() const = 0;               // what /readyz answers
  virtual bool draining() const = 0;
  virtual bool development() const = 0;
  virtual const std::string& listen() const = 0;  // the bound address, port 0 resolved
  virtual std::uint32_t connections_open() const = 0;
  virtual ConnectionTotals connection_totals() const = 0;
  virtual const ReloadStats& reloads() const = 0;
  virtual std::vector<const proxy::WorkerCounters*> worker_counters() const = 0;
  // Every deployment's shared state (gates, statistics), across generations.
  virtual std::vector<std::shared_ptr<proxy::DeploymentState>> deployments() const = 0;
  // Builds and publishes the next generation (all or nothing).
  virtual admin::ReloadOutcome reload(std::string_view reason) = 0;
};

class AdminView final : public admin::AdminModel {
 public:
  explicit AdminView(ProcessView& process) : process_(process) {}
  bool ready() const override { return process_.ready(); }
  std::string status_json() const override;   // status_json.cpp
  std::string metrics_text() const override;  // metrics_text.cpp
  admin::ReloadOutcome reload(std::string_view reason) override { return process_.reload(reason); }

 private:
  ProcessView& process_;
};

}  // namespace scoregate::runtime
