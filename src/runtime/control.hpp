// Control-thread tasks besides signals and admin: the certificate and endpoint key file
// watches (reload on change), readiness probes, DNS discovery of targets, and the start-up
// readiness gate of /readyz. They reach the process only through ControlHost.
#pragma once

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "proxy/plan.hpp"
#include "runtime/snapshot.hpp"
#include "tls/watch_target.hpp"

namespace scoregate::runtime {

// What the control tasks need from the process (runtime::Server implements it).
class ControlHost {
 public:
  struct ReloadResult {
    bool ok = false;
    Problems problems;
  };
  virtual ~ControlHost() = default;
  virtual const Snapshot& current() const = 0;
  // What the current generation's certificate source says to watch (tls Material::watch).
  virtual const std::vector<tls::WatchTarget>& certificate_watch() const = 0;
  virtual std::vector<std::shared_ptr<proxy::DeploymentState>> deployments() const = 0;
  // Builds and publishes the next generation. A failure that is not `final` is neither logged
  // nor counted (the caller will try again); a final one is both.
  virtual ReloadResult reload(std::string_view reason, bool final) = 0;
  // Puts `line` before /status reloads.last_error (what the last refusal meant).
  virtual void explain_last_refusal(const std::string& line) = 0;
};

class ControlTasks {
 public:
  virtual ~ControlTasks() = default;
  virtual void stop() = 0;
  // After a reload: re-read what to watch, probe and resolve.
  virtual void settings_changed() = 0;
  // Start-up readiness (README "Readiness"): true once every deployment that receives traffic
  // has a ready target or has finished its first probe round, or router.readiness_wait_ms has
  // passed since the start; then true for good (reloads do not take it back).
  virtual bool startup_ready() = 0;
};

std::unique_ptr<ControlTasks> start_control_tasks(ControlHost& host, boost::asio::io_context& io);

}  // namespace scoregate::runtime
