// Reading and validating settings: YAML file + `--config` / `--config-protected` flags +
// router flags -> Config -> ValidatedSettings. The only code that knows the file format
// and the flag syntax. Sans-IO except load(), which reads the file named on the command line,
// and endpoint key files (keys.primary_file / secondary_file), which both loaders read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "settings/config.hpp"

namespace scoregate::settings {

struct CommandLine {
  std::string file;                           // -f; "" = none
  std::vector<std::string> config;            // --config KEY=VALUE, in order
  std::vector<std::string> config_protected;  // --config-protected KEY=VALUE, in order
  std::optional<std::string> listen, admin, secrets_dir, state_dir;
  std::optional<unsigned> workers;
};

struct LoadResult {
  Config config;
  Problems problems;  // syntax, unknown keys, wrong types, protected keys in the wrong place
};

// Reads cl.file (if any), then applies the flags (flags override the file).
LoadResult load(const CommandLine& cl);
// The same from YAML text already in memory; source_name is used in messages.
LoadResult load_from_string(std::string_view yaml, std::string_view source_name,
                            const CommandLine& cl);

// True when load() could not read the settings at all (file unreadable, YAML syntax, too large):
// validating what little was read would only add noise. After any other load problem (an
// unknown key, a wrong type, a protected key in the wrong place) validate() still runs, so one
// round lists every problem.
bool settings_unread(const Problems& load_problems);

// Whether the settings as read (`config`, before validate()) and the problems found so far
// leave the certificate checks something sound to check: a usable source (TLS on, not none,
// not both kinds, not half a PEM pair, nothing unreadable about it) and names (sslCname read
// and valid) to check it against. Other settings' errors do not stop the checks.
struct CertificateInputs {
  bool source = false;
  bool names = false;
};
CertificateInputs certificate_inputs(const Config& config, const Problems& problems);

enum class Purpose {
  serve,   // scoregate serve: TLS source and sslCname rules apply
  render,  // k8s render: also needs inferenceRouterServiceType
  show,    // settings show: report problems but never refuse
};

struct ValidationResult;

// Only validate() makes one, so holding a ValidatedSettings means every rule passed.
class ValidatedSettings {
 public:
  const Config& config() const { return config_; }

 private:
  explicit ValidatedSettings(Config c) : config_(std::move(c)) {}
  friend ValidationResult validate(Config config, Purpose purpose);
  Config config_;
};

struct ValidationResult {
  std::optional<ValidatedSettings> settings;  // set when problems has no error
  Problems problems;                          // errors and warnings, all of them
};

ValidationResult validate(Config config, Purpose purpose);

// The effective settings as YAML for `settings show`: protected values and keys are
// printed as "(protected)" / "(secret)", never their content.
std::string show(const Config& config);
// The settings as a file that load() reads back to the same Config: real values, including
// protected ones (under protected:, so they stay protected) and inline endpoint keys; unset
// strings are left out. Callers decide where this text may go (k8s render refuses inline keys
// before calling it).
std::string write(const Config& config);

// The names in an sslCname value (or a --cname argument), the one way every user of the setting
// splits it: at each ',', every name trimmed of spaces and tabs, empty entries ("a,,b", a
// trailing ",") dropped, and a name listed again (compared ignoring case, as DNS does) dropped,
// keeping the first spelling and the order. validate() refuses an sslCname with empty entries
// or entries that are not host names (SETTING_INVALID_VALUE); this function only splits.
std::vector<std::string> cname_list(std::string_view text);

// What a reload cannot apply (the settings table's restart flag; README "Certificate renewal"):
// the keys, spelt as users write them ("allowInsecureConnections", "router.listen"), whose value
// differs between the running settings and the reloaded ones and whose change needs a restart.
// Endpoint settings are always applied by a reload.
std::vector<std::string> restart_required_changes(const Config& old, const Config& next);
// Whether a change of `key` (as returned above) must refuse the whole reload
// (RESTART_REQUIRED) rather than wait for the next restart while the rest is applied.
bool refuses_reload(std::string_view key);

// The known key closest to `unknown` (case-insensitive edit distance), or "" when none is
// close enough to be a plausible typo.
std::string nearest_key(std::string_view unknown, const std::vector<std::string_view>& known);

}  // namespace scoregate::settings
