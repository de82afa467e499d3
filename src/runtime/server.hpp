// The process: builds the first snapshot, binds the listeners, runs the workers and the
// control thread (signals, admin, reloads, certificate watch, health probes, discovery),
// and drains on SIGTERM/SIGINT. What the admin listener shows is built elsewhere
// (runtime/admin_view.hpp) from the ProcessView this implements; the control tasks
// (runtime/control.hpp) reach it through ControlHost.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/admin_server.hpp"
#include "proxy/plan.hpp"
#include "runtime/admin_view.hpp"
#include "runtime/control.hpp"
#include "runtime/snapshot.hpp"
#include "runtime/worker.hpp"

namespace scoregate::runtime {

struct ServeOptions {
  // Produces the settings; called at start and at every reload (re-reads the file).
  std::function<settings::LoadResult()> load;
  bool development = false;  // dev mode: dev CA expected, sample model
  std::function<void(const Snapshot&, const std::string& listen)> on_started;  // banner
};

// What a build of a snapshot found.
struct BuildOutcome {
  SnapshotPtr snapshot;  // nullptr when problems has errors
  Problems problems;
  std::vector<tls::WatchTarget> certificate_watch;  // what the certificate source says to watch
};

class Server final : private ProcessView, private ControlHost {
 public:
  explicit Server(ServeOptions options);
  ~Server() override;
  // Runs until drained; returns the process exit status (0 ok, 1 refused).
  int run();

 private:
  // ProcessView and ControlHost (control thread)
  const Snapshot& current() const override { return *current_; }
  bool ready() const override;
  bool draining() const override { return draining_; }
  bool development() const override { return options_.development; }
  const std::string& listen() const override { return listen_text_; }
  std::uint32_t connections_open() const override { return open_connections_.load(); }
  ConnectionTotals connection_totals() const override;
  const ReloadStats& reloads() const override { return reloads_; }
  std::vector<const proxy::WorkerCounters*> worker_counters() const override;
  std::vector<std::shared_ptr<proxy::DeploymentState>> deployments() const override {
    return registry_.all();
  }
  admin::ReloadOutcome reload(std::string_view reason) override;
  const std::vector<tls::WatchTarget>& certificate_watch() const override {
    return certificate_watch_;
  }
  ReloadResult reload(std::string_view reason, bool final) override;
  void explain_last_refusal(const std::string& line) override;

  // start-up (server.cpp)
  bool bind_listeners(const settings::Config& cfg, unsigned workers);
  void wait_for_signals(boost::asio::signal_set& signals);
  void begin_drain(const char* signal_name);
  void drain_workers(std::chrono::steady_clock::time_point deadline);
  // generations (build.cpp, reload.cpp)
  // `running`: the configuration being served, for a reload (nullptr at start-up).
  BuildOutcome build(std::uint64_t generation, const settings::Config* running);
  void publish(const BuildOutcome& next);
  void refuse(std::string_view reason, const Problems& problems);
  static void log_problems(const Problems& problems);

  ServeOptions options_;
  boost::asio::io_context control_;
  proxy::DeploymentRegistry registry_;  // deployment state shared across generations
  SnapshotPtr current_;
  std::vector<tls::WatchTarget> certificate_watch_;
  ReloadStats reloads_;
  // what runs
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::uint32_t> open_connections_{0};
  std::uint32_t auto_max_connections_ = 1;  // connection_limit_for(the open-files limit)
  std::string listen_text_;
  AdminView admin_view_{*this};
  std::unique_ptr<admin::AdminServer> admin_;
  std::unique_ptr<admin::AdminServer> probes_;  // router.probe_listen, when set
  std::unique_ptr<ControlTasks> control_tasks_;
  std::atomic<bool> draining_{false};
  bool drain_started_ = false;
};

}  // namespace scoregate::runtime
