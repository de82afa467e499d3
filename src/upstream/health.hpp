// Readiness probes (the `readiness_probe` users know from AzureML deployments): a periodic
// HTTP GET per target on the control thread; `success_threshold` passes in a row make a
// target ready, `failure_threshold` failures in a row take it out of rotation. With a probe
// configured a new target receives traffic only after it has passed once.
// The targets a deployment has when it is first set (router start, or a reload that adds the
// deployment) are probed at once; `initial_delay` is for targets that appear later (DNS
// discovery after the first resolution, a target added by a reload): a restarted router must
// not wait it out for models that are up (README "Readiness").
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "settings/config.hpp"
#include "upstream/gate.hpp"

namespace scoregate::upstream {

struct ProbeTiming {
  std::chrono::milliseconds period, timeout, initial_delay;
  std::uint32_t success_threshold, failure_threshold;
  std::string path;
};
ProbeTiming probe_timing(const settings::ReadinessProbe& p);

// One probe: connect, GET path, a 2xx/3xx status within the timeout is a pass.
boost::asio::awaitable<bool> probe_once(boost::asio::ip::tcp::endpoint endpoint,
                                        const std::string& path, std::chrono::milliseconds timeout);

class ProbeRunner {
 public:
  explicit ProbeRunner(boost::asio::io_context& io) : io_(io) {}
  ~ProbeRunner() { stop_all(); }
  // (Re)starts the probes of one deployment for its current targets; no probe = all ready.
  void set(const std::string& key, const std::shared_ptr<Gate>& gate,
           const std::optional<settings::ReadinessProbe>& probe);
  void forget_all_but(const std::set<std::string>& keys);
  void stop_all();
  // True once every target the deployment had when its probes started has a first verdict
  // (pass, fail or timeout), or it has no probe; stays true. False for an unknown key.
  bool first_round_done(const std::string& key) const;

 private:
  struct Run {
    std::shared_ptr<bool> cancelled;
    std::set<std::uint64_t> probed;  // targets that have had probes (keep their verdict)
    bool started = false;            // set() ran before: new targets wait initial_delay
    // Targets still waiting for their first verdict (control thread only: no lock).
    std::shared_ptr<std::size_t> first_round_left;
  };
  boost::asio::io_context& io_;
  std::map<std::string, Run> runs_;
};

}  // namespace scoregate::upstream
