// --config KEY=VALUE, --config-protected KEY=VALUE and the router flags, applied after the
// file so that flags win.
#include "settings/internal.hpp"

namespace scoregate::settings::detail {

namespace {

// --config listen=... is a natural guess; the router has its own flags for that.
std::string router_flag_hint(std::string_view key) {
  for (std::string_view k : {"listen", "admin", "workers", "secrets_dir", "state_dir"})
    if (key == k) {
      std::string flag(k);
      for (char& ch : flag)
        if (ch == '_') ch = '-';
      return "use --" + flag + " " + (k == "workers" ? "N" : "VALUE") + " (or router." +
             std::string(k) + " in the file)";
    }
  if (find_field(kRouterFields, key))
    return "set router." + std::string(key) + " in the settings file";
  return "";
}

void config_flag(Config& c, const std::string& arg, bool via_protected, std::size_t n,
                 Problems& problems) {
  const std::string flag = via_protected ? "--config-protected" : "--config";
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    // A --config-protected argument without '=' is most likely a bare path: never echo it.
    std::string shown = via_protected ? "" : " (" + display_key(arg) + ")";
    problems.error("FLAG_SYNTAX", flag,
                   flag + " argument #" + std::to_string(n + 1) + shown +
                       (eq == 0 ? " has no key before '='" : " has no '='"),
                   "write " + flag + " KEY=VALUE, e.g. " +
                       (via_protected ? "--config-protected sslCertPemFile=/etc/tls/cert.pem"
                                      : "--config sslCname=scoring.example.com"));
    return;
  }
  const std::string key = arg.substr(0, eq);
  const std::string where = flag + " " + display_key(key);
  if (!via_protected && is_protected_only(key)) {
    problems.error("SETTING_PROTECTED", where,
                   key + " is configuration-protected and is not accepted with --config",
                   "pass it with --config-protected " + key +
                       "=PATH (or put it under protected: in the settings file)");
    return;
  }
  if (!is_extension_key(key) && !is_protected_only(key)) {
    if (std::string hint = router_flag_hint(key); !hint.empty()) {
      problems.error("SETTING_UNKNOWN", where, key + " is not a " + flag + " key", hint);
      return;
    }
    report_unknown(problems, where, key, all_extension_keys(), "for " + flag, !via_protected);
    return;
  }
  set_extension(c, key, std::string_view(arg).substr(eq + 1), where, via_protected, problems);
}

}  // namespace

void apply_flags(Config& c, const CommandLine& cl, Problems& problems) {
  auto apply = [&](const std::string& arg, bool via_protected, std::size_t i) {
    const std::size_t errors_before = problems.error_count();
    config_flag(c, arg, via_protected, i, problems);
    if (problems.error_count() > errors_before && arg.find('=') != std::string::npos)
      mark_unreadable(c, std::string_view(arg).substr(0, arg.find('=')));
  };
  for (std::size_t i = 0; i < cl.config.size(); ++i) apply(cl.config[i], false, i);
  for (std::size_t i = 0; i < cl.config_protected.size(); ++i)
    apply(cl.config_protected[i], true, i);
  auto& r = c.router;
  struct RouterFlag {
    const std::optional<std::string>& value;
    std::string& target;
    const char* key;
    const char* flag;
  };
  const RouterFlag router_flags[] = {
      {cl.listen, r.listen, "router.listen", "--listen"},
      {cl.admin, r.admin, "router.admin", "--admin"},
      {cl.secrets_dir, r.secrets_dir, "router.secrets_dir", "--secrets-dir"},
      {cl.state_dir, r.state_dir, "router.state_dir", "--state-dir"}};
  for (const auto& f : router_flags) {
    if (!f.value) continue;
    f.target = *f.value;
    record(c, f.key, f.flag);
  }
  if (cl.workers) {
    r.workers = *cl.workers;
    record(c, "router.workers", "--workers");
  }
}

}  // namespace scoregate::settings::detail
