// Control-thread tasks besides signals and admin: the certificate and endpoint key file
// watches (reload on change), readiness probes, DNS discovery of targets, and the start-up
// readiness gate of /readyz.
#pragma once

namespace scoregate::runtime {

class Server;

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

}  // namespace scoregate::runtime
