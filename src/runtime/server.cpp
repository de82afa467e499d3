// Running the process: the first snapshot, the listeners, signals, and the drain. Reloads are in
// reload.cpp, snapshot builds in build.cpp, what the admin listener shows in admin_view.hpp.
#include "runtime/server.hpp"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <iostream>
#include <thread>

#include "runtime/allocator.hpp"
#include "runtime/container.hpp"
#include "runtime/control.hpp"
#include "runtime/io_backend.hpp"
#include "runtime/listen.hpp"

namespace scoregate::runtime {

namespace asio = boost::asio;

Server::Server(ServeOptions options) : options_(std::move(options)), control_(1) {}

Server::~Server() = default;

namespace {
std::string default_listen(const settings::Config& cfg, bool development) {
  if (!cfg.router.listen.empty()) return cfg.router.listen;
  if (development) return "127.0.0.1:8443";
  return cfg.extension.allow_insecure_connections ? "0.0.0.0:8080" : "0.0.0.0:8443";
}

// router.workers 0: one worker per CPU the container lets us use, not per core of the node
// (README "Workers and limits").
unsigned worker_count(unsigned configured) {
  if (configured) return configured;
  auto limits = detect_cpu_limits();
  auto cpus = usable_cpus(limits);
  spdlog::info("workers: {} (router.workers unset: from the {}; the node has {} core(s))",
               cpus.count, cpus.source, limits.hardware);
  return cpus.count;
}

// Returns the soft limit in force.
unsigned long long raise_file_limit() {
  auto nofile = raise_open_files_limit();
  if (!nofile.error.empty())
    spdlog::warn("cannot raise the open-files limit ({}); it stays at {}", nofile.error,
                 nofile.soft);
  else
    spdlog::info("open files: soft limit {} (= the hard limit; it was {})", nofile.soft,
                 nofile.soft_before);
  return nofile.soft;
}

void log_connection_limit(const Snapshot& s, unsigned long long open_files) {
  if (s.max_connections_auto)
    spdlog::info("max_connections: {} (router.max_connections unset: (open files {} - {}) / 2)",
                 s.max_connections, open_files, kOpenFilesReserve);
  else
    spdlog::info("max_connections: {} (router.max_connections)", s.max_connections);
}
}  // namespace

int Server::run() {
  const auto open_files = raise_file_limit();
  auto_max_connections_ = connection_limit_for(open_files);
  auto first = build(1, nullptr);
  if (!first.snapshot) {
    std::cerr << "scoregate: refusing to start; fix these problems:\n"
              << first.problems.to_string();
    return 1;
  }
  log_problems(first.problems);
  publish(first);
  log_connection_limit(*current_, open_files);
  const auto& cfg = current_->config();
  const unsigned n = worker_count(cfg.router.workers);
  if (!bind_listeners(cfg, n)) return 1;

  asio::signal_set signals(control_, SIGTERM, SIGINT, SIGHUP);
  wait_for_signals(signals);
  for (auto& w : workers_) w->start(current_);
  admin_->start();
  if (probes_) probes_->start();
  control_tasks_ = start_control_tasks(*this, control_);
  spdlog::info(
      "scoregate serving {} on {} ({} worker{}), admin on {}{}, generation {}, {}, I/O {}, {}",
      current_->tls ? "HTTPS" : "plain HTTP", listen_text_, n, n == 1 ? "" : "s",
      format_listen(admin_->local_endpoint()),
      probes_ ? ", probes on " + format_listen(probes_->local_endpoint()) : std::string(),
      current_->generation, OpenSSL_version(OPENSSL_VERSION), io_backend(), allocator());
  if (options_.on_started) options_.on_started(*current_, listen_text_);

  control_.run();
  for (auto& w : workers_) w->join();
  spdlog::info("scoregate stopped");
  return 0;
}

// Every worker listens on the same address (port 0: the one the first was given), then the
// admin and probe listeners. false (and why, on stderr) when one cannot be bound.
bool Server::bind_listeners(const settings::Config& cfg, unsigned workers) {
  listen_text_ = default_listen(cfg, options_.development);
  try {
    auto endpoint = resolve_listen(listen_text_);
    for (unsigned i = 0; i < workers; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, open_connections_));
      workers_.back()->listen(endpoint);
      if (i == 0) endpoint = workers_[0]->local_endpoint();
    }
    listen_text_ = format_listen(endpoint);
    admin_ = std::make_unique<admin::AdminServer>(control_, admin_view_);
    admin_->listen(resolve_listen(cfg.router.admin));
    if (!cfg.router.probe_listen.empty()) {
      probes_ = std::make_unique<admin::AdminServer>(control_, admin_view_,
                                                     admin::AdminServer::Scope::probes);
      probes_->listen(resolve_listen(cfg.router.probe_listen));
    }
  } catch (const std::exception& e) {
    std::cerr << "scoregate: refusing to start; fix these problems:\n"
              << "LISTEN_FAILED error: " << e.what()
              << " \u2014 free the port or choose another with --listen / --admin HOST:PORT\n";
    return false;
  }
  return true;
}

// SIGHUP reloads; SIGTERM/SIGINT drain, and a second one stops at once.
void Server::wait_for_signals(asio::signal_set& signals) {
  signals.async_wait([this, &signals](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload("SIGHUP");
    } else if (draining_) {
      spdlog::warn("second {}: stopping now", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      drain_workers(std::chrono::steady_clock::now());
    } else {
      begin_drain(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    wait_for_signals(signals);
  });
}

std::vector<const proxy::WorkerCounters*> Server::worker_counters() const {
  std::vector<const proxy::WorkerCounters*> out;
  for (const auto& w : workers_) out.push_back(&w->counters());
  return out;
}

ConnectionTotals Server::connection_totals() const {
  ConnectionTotals t;
  for (const auto& w : workers_) {
    const auto& c = w->connection_counters();
    t.accept_errors += c.accept_errors.load(std::memory_order_relaxed);
    t.refused_max += c.refused_max.load(std::memory_order_relaxed);
    t.refused_descriptors += c.refused_descriptors.load(std::memory_order_relaxed);
    t.idle_closed += c.idle_closed.load(std::memory_order_relaxed);
  }
  return t;
}

// Not ready before the control tasks run: they own the start-up readiness gate.
bool Server::ready() const {
  return !draining_ && current_ != nullptr && control_tasks_ && control_tasks_->startup_ready();
}

void Server::begin_drain(const char* signal_name) {
  draining_ = true;  // /readyz fails from now on
  const auto& router = current_->config().router;
  auto drain = [this, drain_ms = router.drain_timeout_ms, name = std::string(signal_name)] {
    spdlog::info("{}: draining (no new connections; up to {} ms for requests in flight)", name,
                 drain_ms);
    drain_workers(std::chrono::steady_clock::now() + std::chrono::milliseconds(drain_ms));
  };
  if (router.shutdown_delay_ms == 0) return drain();
  spdlog::info("{}: not ready; serving {} ms more before draining (router.shutdown_delay_ms)",
               signal_name, router.shutdown_delay_ms);
  auto timer = std::make_shared<boost::asio::steady_timer>(
      control_, std::chrono::milliseconds(router.shutdown_delay_ms));
  timer->async_wait([timer, drain](const boost::system::error_code&) { drain(); });
}

void Server::drain_workers(std::chrono::steady_clock::time_point deadline) {
  for (auto& w : workers_) w->drain(deadline);
  if (drain_started_) return;
  drain_started_ = true;
  if (admin_) admin_->stop();
  if (probes_) probes_->stop();
  if (control_tasks_) control_tasks_->stop();
  // Workers end on their own; this thread waits for them, then lets the control loop end.
  std::thread([this] {
    for (auto& w : workers_) w->join();
    control_.stop();
  }).detach();
}

}  // namespace scoregate::runtime
