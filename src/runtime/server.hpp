// The process: builds the first snapshot, binds the listeners, runs the workers and the
// control thread (signals, admin, reloads, certificate watch, health probes, discovery),
// and drains on SIGTERM/SIGINT.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "admin/admin_server.hpp"
#include "proxy/plan.hpp"
#include "runtime/control.hpp"
#include "runtime/snapshot.hpp"
#include "runtime/worker.hpp"

namespace scoregate::runtime {

struct ServeOptions {
  // Produces the settings; called at start and at every reload (re-reads the file).
  std::function<settings::LoadResult()> load;
  bool development = false;        // dev mode: dev CA expected, sample model
  std::function<void(const Snapshot&, const std::string& listen)> on_started;  // banner
};

// What a build of a snapshot found.
struct BuildOutcome {
  SnapshotPtr snapshot;  // nullptr when problems has errors
  Problems problems;
  std::vector<std::string> watch_dirs;  // certificate source directories
};

class Server final : public admin::AdminModel {
 public:
  explicit Server(ServeOptions options);
  ~Server() override;
  // Runs until drained; returns the process exit status (0 ok, 1 refused).
  int run();

  // AdminModel (control thread)
  bool ready() const override;
  std::string status_json() const override;
  std::string metrics_text() const override;
  admin::ReloadOutcome reload(std::string_view reason) override;

 private:
  friend class ControlTasksImpl;
  struct ReloadResult {
    bool ok = false;
    Problems problems;
  };
  // Builds and publishes a new generation. A failure that is not `final` is neither logged
  // nor counted (the caller will try again); a final one is both.
  ReloadResult reload_checked(std::string_view reason, bool final);
  // `running`: the configuration being served, for a reload (nullptr at start-up).
  BuildOutcome build(std::uint64_t generation, const settings::Config* running);
  void start_control_tasks();
  void begin_drain(const char* signal_name);
  void drain_workers(std::chrono::steady_clock::time_point deadline);
  void publish(SnapshotPtr next);
  static void use_ticket_keys(const Snapshot& s);

  ServeOptions options_;
  boost::asio::io_context control_;
  proxy::DeploymentRegistry registry_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<admin::AdminServer> admin_;
  std::unique_ptr<admin::AdminServer> probes_;  // router.probe_listen, when set
  std::atomic<std::uint32_t> open_connections_{0};
  SnapshotPtr current_;
  std::vector<std::string> watch_dirs_;
  std::string listen_text_;
  std::atomic<bool> draining_{false};
  bool drain_started_ = false;
  std::uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::string last_reload_error_;
  std::string last_reload_time_;
  std::chrono::system_clock::time_point started_at_;
  std::unique_ptr<ControlTasks> control_tasks_;
};

}  // namespace scoregate::runtime
