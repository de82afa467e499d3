// Control-thread tasks: certificate and endpoint key file watches with debounce and a
// tolerance window for half-written files, the daily expiry warning, readiness probes, DNS
// discovery and the start-up readiness gate.
#include "runtime/control.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <map>

#include "tls/watcher.hpp"
#include "upstream/discovery.hpp"
#include "upstream/health.hpp"

namespace scoregate::runtime {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Failures that a writer replacing the files one after the other produces for a moment.
bool looks_half_written(const Problems& problems) {
  static const std::set<std::string> transient = {"KEY_MISMATCH",
                                                  "CERT_EMPTY",
                                                  "KEY_EMPTY",
                                                  "CERT_NOT_PEM",
                                                  "KEY_NOT_PEM",
                                                  "CERT_FILE_UNREADABLE",
                                                  "KEY_FILE_UNREADABLE",
                                                  "SECRET_KEY_MISSING",
                                                  "SECRET_NOT_FOUND",
                                                  "SECRET_MANIFEST_INVALID",
                                                  "CERT_CHAIN_ORDER",
                                                  "TICKET_KEY_FILE_UNREADABLE",
                                                  "TICKET_KEY_FILE_INVALID"};
  for (const auto& p : problems.items())
    if (p.severity == Severity::error && !transient.count(p.code)) return false;
  return true;
}

constexpr const char* kCertificatesChanged = "certificate files changed";
constexpr const char* kKeysChanged = "endpoint key files changed";
constexpr auto kReadinessCheckEvery = 20ms;
constexpr auto kDebounce = 100ms;
constexpr auto kRetryEvery = 250ms;
constexpr int kQuietRetries = 8;  // a mismatching pair is tolerated for ~2 s, then reported

}  // namespace

class ControlTasksImpl final : public ControlTasks {
 public:
  ControlTasksImpl(ControlHost& host, asio::io_context& io)
      : host_(host),
        watcher_(
            io, [this] { attempt(0, kCertificatesChanged); }, kDebounce),
        keys_watcher_(
            io, [this] { attempt(0, kKeysChanged); }, kDebounce),
        retry_(io),
        expiry_(io),
        readiness_(io),
        readiness_wait_(host.current().config().router.readiness_wait_ms),
        readiness_started_(std::chrono::steady_clock::now()),
        probes_(io),
        discovery_(io, std::chrono::milliseconds(host.current().config().router.dns_refresh_ms),
                   [this](const std::string& key) { reprobe(key); }) {
    settings_changed();
    schedule_expiry_check(0s);
    schedule_readiness_check();
  }

  void stop() override {
    watcher_.stop();
    keys_watcher_.stop();
    retry_.cancel();
    expiry_.cancel();
    readiness_.cancel();
    probes_.stop_all();
    discovery_.stop_all();
  }

  void settings_changed() override {
    watch_certificate_sources();
    watch_key_files();
    std::set<std::string> keys;
    for (const auto& d : host_.deployments()) {
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
  // The certificate source decides what to watch (tls Material::watch); this only watches it.
  void watch_certificate_sources() {
    for (const auto& failed : watcher_.watch(host_.certificate_watch()))
      spdlog::warn(
          "cannot watch {} for certificate renewals yet; retrying every second "
          "(SIGHUP or POST /-/reload reload at once)",
          failed);  // a secret directory or a label, never a protected path
  }

  // A refusal that names an endpoint key (its code, or a place under endpoints[].keys):
  // only then is KEY_ROTATION_REFUSED the right word (a certificate problem refused otherwise).
  static bool about_key_files(const Problems& problems) {
    for (const auto& p : problems.items())
      if (p.severity == Severity::error &&
          (p.code == "AUTH_KEY_FILE_UNREADABLE" || p.code == "AUTH_KEY_MISSING" ||
           p.where.find(".keys.") != std::string::npos))
        return true;
    return false;
  }

  void attempt(int n, const char* reason) {
    retry_.cancel();
    auto result = host_.reload(reason, /*final=*/false);
    if (result.ok) return;
    if (n < kQuietRetries && looks_half_written(result.problems)) {
      retry_.expires_after(kRetryEvery);
      retry_.async_wait([this, n, reason](const boost::system::error_code& ec) {
        if (!ec) attempt(n + 1, reason);
      });
      return;
    }
    auto final_result = host_.reload(reason, /*final=*/true);
    if (final_result.ok || reason != kKeysChanged || !about_key_files(final_result.problems))
      return;
    // All or nothing: not one endpoint takes a new key while any file is refused.
    const std::string kept =
        "KEY_ROTATION_REFUSED warning: endpoint key files: changed key files were refused (see "
        "the problems); every endpoint keeps the keys in use \u2014 fix the file or the "
        "Secret; it is picked up when it changes";
    spdlog::warn("{}", kept);
    host_.explain_last_refusal(kept);
  }

  // keys.primary_file / secondary_file: their directories, so that the kubelet's `..data`
  // swap of a Secret volume is seen. Messages name the setting, never the path.
  void watch_key_files() {
    const auto& cfg = host_.current().config();
    std::vector<tls::WatchTarget> targets;
    for (std::size_t i = 0; i < cfg.endpoints.size(); ++i) {
      const auto& e = cfg.endpoints[i];
      const std::pair<const std::string&, const char*> files[] = {
          {e.primary_key_file, "primary_file"}, {e.secondary_key_file, "secondary_file"}};
      for (const auto& [file, which] : files) {
        if (file.empty()) continue;
        targets.push_back(tls::watch_file(
            file, "the directory of endpoints[" + std::to_string(i) + "].keys." + which));
      }
    }
    for (const auto& failed : keys_watcher_.watch(targets))
      spdlog::warn(
          "cannot watch {} for key rotations yet; retrying every second (SIGHUP or "
          "POST /-/reload reload at once)",
          failed);
  }

  bool startup_ready() override {
    if (ready_) return true;
    auto waiting = deployments_waiting();
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - readiness_started_);
    if (waiting.empty() || readiness_wait_.count() == 0) {
      spdlog::info("ready after {} ms: {}", waited.count(),
                   waiting.empty() ? "every deployment that receives traffic has a ready target "
                                     "or has been probed once"
                                   : "router.readiness_wait_ms is 0");
    } else if (waited >= readiness_wait_) {
      std::string names;
      for (const auto& w : waiting) names += (names.empty() ? "" : ", ") + w;
      spdlog::warn(
          "READY_WITHOUT_TARGETS warning: router.readiness_wait_ms: ready after {} ms "
          "although deployment(s) {} have no ready target and no finished probe round "
          "\u2014 check those model pods; their requests get 503 until a target passes",
          waited.count(), names);
    } else {
      return false;
    }
    ready_ = true;
    readiness_.cancel();
    return true;
  }

  void schedule_expiry_check(std::chrono::seconds after) {
    expiry_.expires_after(after);
    expiry_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (const auto& tls = host_.current().tls) {
        auto days = (tls->summary().not_after - std::time(nullptr)) / 86400;
        if (days < 30)
          spdlog::warn(
              "CERT_EXPIRES_SOON warning: the served certificate {} expires in {} day(s) "
              "\u2014 renew it; scoregate picks up the new files by itself",
              tls->summary().subject, days);
      }
      schedule_expiry_check(24h);
    });
  }

  // Deployments with a traffic share (mirror copies do not count) that have neither a ready
  // target nor a finished first probe round.
  std::vector<std::string> deployments_waiting() {
    std::map<std::string, std::shared_ptr<proxy::DeploymentState>> states;
    for (const auto& d : host_.deployments()) states[d->endpoint + "/" + d->name] = d;
    std::vector<std::string> waiting;
    for (const auto& e : host_.current().config().endpoints)
      for (const auto& [name, percent] : e.traffic) {
        auto key = e.name + "/" + name;
        auto it = states.find(key);
        if (percent == 0 || it == states.end() || probes_.first_round_done(key)) continue;
        auto view = it->second->gate->view();
        if (std::none_of(view.begin(), view.end(),
                         [](const auto& t) { return t.ready && !t.ejected; }))
          waiting.push_back(key);
      }
    return waiting;
  }

  // /readyz also asks at once; the timer makes the flip (and its log line) happen without a
  // probe asking.
  void schedule_readiness_check() {
    readiness_.expires_after(kReadinessCheckEvery);
    readiness_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !startup_ready()) schedule_readiness_check();
    });
  }

  void reprobe(const std::string& key) {
    for (const auto& d : host_.deployments())
      if (d->endpoint + "/" + d->name == key) {
        std::lock_guard lock(d->control_mutex);
        probes_.set(key, d->gate, d->probe);
      }
  }

  ControlHost& host_;
  tls::DirectoryWatcher watcher_, keys_watcher_;
  asio::steady_timer retry_, expiry_, readiness_;
  // Read once: the start-up wait is over before a reload could change it.
  const std::chrono::milliseconds readiness_wait_;
  const std::chrono::steady_clock::time_point readiness_started_;
  bool ready_ = false;
  upstream::ProbeRunner probes_;
  upstream::Discovery discovery_;
};

std::unique_ptr<ControlTasks> start_control_tasks(ControlHost& host, asio::io_context& io) {
  return std::make_unique<ControlTasksImpl>(host, io);
}

}  // namespace scoregate::runtime
