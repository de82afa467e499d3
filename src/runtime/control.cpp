// Control-thread tasks: certificate watch with debounce and a tolerance window for
// half-written pairs, the daily expiry warning, readiness probes and DNS discovery.
#include "runtime/control.hpp"

#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "runtime/server.hpp"
#include "tls/watcher.hpp"
#include "upstream/discovery.hpp"
#include "upstream/health.hpp"

namespace scoregate::runtime {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Failures that a writer replacing the files one after the other produces for a moment.
bool looks_half_written(const Problems& problems) {
  static const std::set<std::string> transient = {
      "KEY_MISMATCH",       "CERT_EMPTY",          "KEY_EMPTY",          "CERT_NOT_PEM",
      "KEY_NOT_PEM",        "CERT_FILE_UNREADABLE", "KEY_FILE_UNREADABLE", "SECRET_KEY_MISSING",
      "SECRET_NOT_FOUND",   "SECRET_MANIFEST_INVALID", "CERT_CHAIN_ORDER",
      "TICKET_KEY_FILE_UNREADABLE", "TICKET_KEY_FILE_INVALID"};
  for (const auto& p : problems.items())
    if (p.severity == Severity::error && !transient.count(p.code)) return false;
  return true;
}

constexpr auto kDebounce = 100ms;
constexpr auto kRetryEvery = 250ms;
constexpr int kQuietRetries = 8;  // a mismatching pair is tolerated for ~2 s, then reported

}  // namespace

class ControlTasksImpl final : public ControlTasks {
 public:
  ControlTasksImpl(Server& server, asio::io_context& io)
      : server_(server),
        watcher_(io, [this] { attempt(0); }, kDebounce),
        retry_(io),
        expiry_(io),
        probes_(io),
        discovery_(io, std::chrono::milliseconds(server.current_->config().router.dns_refresh_ms),
                   [this](const std::string& key) { reprobe(key); }) {
    settings_changed();
    schedule_expiry_check(0s);
  }

  void stop() override {
    watcher_.stop();
    retry_.cancel();
    expiry_.cancel();
    probes_.stop_all();
    discovery_.stop_all();
  }

  void settings_changed() override {
    watch_certificate_sources();
    std::set<std::string> keys;
    for (const auto& d : server_.registry_.all()) {
      auto key = d->endpoint + "/" + d->name;
      keys.insert(key);
      std::lock_guard lock(d->control_mutex);
      probes_.set(key, d->gate, d->probe);
      discovery_.set(key, d->gate, d->discovered_specs);
    }
    probes_.forget_all_but(keys);
    discovery_.forget_all_but(keys);
  }

 private:
  void watch_certificate_sources() {
    const auto& cfg = server_.current_->config();
    std::vector<tls::WatchTarget> targets;
    if (!cfg.extension.ssl_secret.empty()) {
      // The volume directory is named after the Secret: not printed when sslSecret is protected.
      const std::string label = cfg.is_protected("sslSecret") ? "the sslSecret directory" : "";
      for (const auto& dir : server_.watch_dirs_) targets.push_back({dir, {}, label});
    } else if (!cfg.extension.ssl_cert_pem_file.empty()) {
      const std::pair<const std::string&, const char*> files[] = {
          {cfg.extension.ssl_cert_pem_file, "the directory of sslCertPemFile"},
          {cfg.extension.ssl_key_pem_file, "the directory of sslKeyPemFile"}};
      for (const auto& [file, label] : files) {
        std::filesystem::path p(file);
        auto dir = p.parent_path().empty() ? std::string(".") : p.parent_path().string();
        targets.push_back({dir, {p.filename().string()}, label});
      }
    }
    if (const auto& f = cfg.router.session_ticket_key_file;
        !f.empty() && !cfg.extension.allow_insecure_connections) {
      std::filesystem::path p(f);
      targets.push_back({p.parent_path().empty() ? std::string(".") : p.parent_path().string(),
                         {p.filename().string()}});
    }
    for (const auto& failed : watcher_.watch(targets))
      spdlog::warn("cannot watch {} for certificate renewals yet; retrying every second "
                   "(SIGHUP or POST /-/reload reload at once)",
                   failed);  // a secret directory or a label, never a protected path
  }

  void attempt(int n) {
    retry_.cancel();
    auto result = server_.reload_checked("certificate files changed", /*final=*/false);
    if (result.ok) return;
    if (n < kQuietRetries && looks_half_written(result.problems)) {
      retry_.expires_after(kRetryEvery);
      retry_.async_wait([this, n](const boost::system::error_code& ec) {
        if (!ec) attempt(n + 1);
      });
      return;
    }
    server_.reload_checked("certificate files changed", /*final=*/true);
  }

  void schedule_expiry_check(std::chrono::seconds after) {
    expiry_.expires_after(after);
    expiry_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (const auto& tls = server_.current_->tls) {
        auto days = (tls->summary().not_after - std::time(nullptr)) / 86400;
        if (days < 30)
          spdlog::warn("CERT_EXPIRES_SOON warning: the served certificate {} expires in {} day(s) "
                       "\u2014 renew it; scoregate picks up the new files by itself",
                       tls->summary().subject, days);
      }
      schedule_expiry_check(24h);
    });
  }

  void reprobe(const std::string& key) {
    for (const auto& d : server_.registry_.all())
      if (d->endpoint + "/" + d->name == key) {
        std::lock_guard lock(d->control_mutex);
        probes_.set(key, d->gate, d->probe);
      }
  }

  Server& server_;
  tls::DirectoryWatcher watcher_;
  asio::steady_timer retry_, expiry_;
  upstream::ProbeRunner probes_;
  upstream::Discovery discovery_;
};

void Server::start_control_tasks() {
  control_tasks_ = std::make_unique<ControlTasksImpl>(*this, control_);
}

}  // namespace scoregate::runtime
