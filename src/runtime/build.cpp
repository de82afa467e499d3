// Building a snapshot: settings -> validation -> certificate -> TLS context -> proxy plan.
// All or nothing: any error leaves the running generation untouched.
#include <spdlog/spdlog.h>

#include "runtime/server.hpp"
#include "settings/settings.hpp"
#include "tls/certificate.hpp"

namespace scoregate::runtime {

namespace {

http::ServerLimits limits_of(const settings::RouterSettings& r) {
  http::ServerLimits l;
  l.max_header_bytes = r.max_header_bytes;
  l.max_body_bytes = r.max_body_bytes;
  l.handshake_timeout = std::chrono::milliseconds(r.handshake_timeout_ms);
  l.header_timeout = std::chrono::milliseconds(r.header_timeout_ms);
  l.keepalive_timeout = std::chrono::milliseconds(r.keepalive_timeout_ms);
  l.body_idle_timeout = std::chrono::milliseconds(r.body_idle_timeout_ms);
  l.min_body_rate_bytes_per_s = r.min_body_rate_bytes_per_s;
  l.min_body_rate_grace = std::chrono::milliseconds(r.min_body_rate_grace_ms);
  l.http2 = r.http2;
  l.h2_max_concurrent_streams = r.http2_max_concurrent_streams;
  return l;
}

// A setting the running process cannot take in place (its row in the settings table says
// OnReload::refuse, e.g. allowInsecureConnections: a TLS listener cannot turn into plain HTTP)
// refuses the reload. Checked before the proxy plan is built, because building it updates the
// live admission gates: a reload refused after that would not be all or nothing.
void check_restart_required(const settings::Config& running, const settings::Config& next,
                            Problems& problems) {
  for (const auto& key : settings::restart_required_changes(running, next))
    if (settings::refuses_reload(key))
      problems.error("RESTART_REQUIRED", key, key + " changed", "restart scoregate to apply it");
}

}  // namespace

BuildOutcome Server::build(std::uint64_t generation, const settings::Config* running) {
  BuildOutcome out;
  auto loaded = options_.load();
  out.problems.append(loaded.problems);
  if (settings::settings_unread(loaded.problems)) return out;
  // Everything is checked even when something already failed, so one round lists every
  // problem: the settings as read, their rules, and the certificate they name.
  const settings::Config as_read = loaded.config;
  auto validated = settings::validate(std::move(loaded.config), settings::Purpose::serve);
  out.problems.append(validated.problems);
  std::shared_ptr<const settings::ValidatedSettings> settings;
  if (validated.settings && !out.problems.has_errors())
    settings = std::make_shared<const settings::ValidatedSettings>(std::move(*validated.settings));
  const auto& cfg = settings ? settings->config() : as_read;

  auto snapshot = std::make_shared<Snapshot>();
  if (const auto inputs = settings::certificate_inputs(as_read, out.problems); inputs.source) {
    const bool settings_ok = !out.problems.has_errors();
    auto material = tls::resolve_source(cfg, out.problems);
    if (material) {
      out.certificate_watch = material->watch;
      tls::CheckOptions check;
      if (inputs.names) check.names = settings::cname_list(cfg.extension.ssl_cname);
      check.trusted_ca_file = cfg.router.trusted_ca_file;
      check.development = options_.development;
      auto certificate = tls::check_certificate(*material, check, out.problems);
      if (certificate && settings_ok && !out.problems.has_errors()) {
        std::string error;
        snapshot->tls = tls::build_server_context(
            *certificate, {cfg.router.min_tls_version, cfg.router.http2}, error);
        if (!snapshot->tls)
          out.problems.error("TLS_CONTEXT_FAILED", material->cert_label,
                             "OpenSSL refused the certificate and key: " + error,
                             "check the files with `scoregate cert check`");
      }
    }
  }
  if (!cfg.extension.allow_insecure_connections && !cfg.router.session_ticket_key_file.empty())
    snapshot->ticket_keys =
        tls::load_ticket_key_file(cfg.router.session_ticket_key_file, out.problems);
  if (running && !out.problems.has_errors()) check_restart_required(*running, cfg, out.problems);
  if (out.problems.has_errors()) return out;
  snapshot->plan = registry_.build(cfg, out.problems);
  if (!snapshot->plan) return out;
  snapshot->limits = limits_of(cfg.router);
  snapshot->max_connections_auto = cfg.router.max_connections == 0;
  snapshot->max_connections =
      snapshot->max_connections_auto ? auto_max_connections_ : cfg.router.max_connections;
  snapshot->settings = std::move(settings);
  snapshot->generation = generation;
  out.snapshot = std::move(snapshot);
  return out;
}

}  // namespace scoregate::runtime
