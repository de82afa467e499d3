// Control-thread tasks besides signals and admin: the certificate watch (reload on change),
// readiness probes and DNS discovery of targets.
#pragma once

namespace scoregate::runtime {

class Server;

class ControlTasks {
 public:
  virtual ~ControlTasks() = default;
  virtual void stop() = 0;
  // After a reload: re-read what to watch, probe and resolve.
  virtual void settings_changed() = 0;
};

}  // namespace scoregate::runtime
