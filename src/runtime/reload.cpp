// Reloads: build generation n+1 off the hot path, then publish it whole or refuse it whole
// (ARCHITECTURE.md "Threads, snapshots and reloads"). A refused reload changes nothing live:
// the running generation keeps serving and the failure is logged and counted for /status.
#include <spdlog/spdlog.h>

#include "core/time.hpp"
#include "runtime/server.hpp"

namespace scoregate::runtime {

namespace {

void use_ticket_keys(const Snapshot& s) {
  if (s.ticket_keys)
    tls::process_ticket_keys().use_keys(*s.ticket_keys);
  else
    tls::process_ticket_keys().use_generated();
}

// Settings the table marks OnReload::restart: the reload goes ahead, they wait for a restart.
void warn_restart_only_changes(std::string_view reason, const settings::Config& old,
                               const settings::Config& next) {
  std::string keys;
  for (const auto& key : settings::restart_required_changes(old, next)) {
    if (settings::refuses_reload(key)) continue;  // refused earlier (check_restart_required)
    keys += keys.empty() ? key : ", " + key;
  }
  if (!keys.empty())
    spdlog::warn(
        "reload ({}): {} take effect only after a restart; everything else is "
        "applied now",
        reason, keys);
}

void log_live(std::string_view reason, const Snapshot& s) {
  if (s.tls)
    spdlog::info("reload ({}): generation {} live; certificate {} (SHA-256 {}), not after {}",
                 reason, s.generation, s.tls->summary().subject,
                 s.tls->summary().fingerprint_sha256, iso8601_utc(s.tls->summary().not_after));
  else
    spdlog::info("reload ({}): generation {} live", reason, s.generation);
}

}  // namespace

void Server::log_problems(const Problems& problems) {
  for (const auto& p : problems.items()) {
    if (p.severity == Severity::error)
      spdlog::error("{}", format_problem(p));
    else
      spdlog::warn("{}", format_problem(p));
  }
}

void Server::publish(const BuildOutcome& next) {
  current_ = next.snapshot;
  certificate_watch_ = next.certificate_watch;
  use_ticket_keys(*current_);
  for (auto& w : workers_) w->publish(current_);
  if (control_tasks_) control_tasks_->settings_changed();
}

admin::ReloadOutcome Server::reload(std::string_view reason) {
  auto result = reload(reason, true);
  admin::ReloadOutcome outcome;
  outcome.ok = result.ok;
  outcome.generation = current_->generation;
  outcome.problems = result.problems.to_string();
  return outcome;
}

ControlHost::ReloadResult Server::reload(std::string_view reason, bool final) {
  ReloadResult result;
  if (draining_) {
    result.problems.error("RELOAD_DRAINING", "", "the router is draining", "");
    return result;
  }
  auto next = build(current_->generation + 1, &current_->config());
  result.problems = next.problems;
  if (!next.snapshot) {
    if (final) refuse(reason, result.problems);
    return result;
  }
  warn_restart_only_changes(reason, current_->config(), next.snapshot->config());
  log_problems(next.problems);  // warnings
  ++reloads_.ok;
  reloads_.last_error.clear();
  publish(next);
  result.ok = true;
  log_live(reason, *current_);
  return result;
}

void Server::refuse(std::string_view reason, const Problems& problems) {
  ++reloads_.failed;
  reloads_.last_error = problems.to_string();
  spdlog::error("reload ({}) refused; still serving generation {}:", reason, current_->generation);
  log_problems(problems);
}

void Server::explain_last_refusal(const std::string& line) {
  reloads_.last_error = line + "\n" + reloads_.last_error;
}

}  // namespace scoregate::runtime
