// Shared by the settings/*.cpp files only: key tables, scalar parsing and address syntax.
// Not part of the module's API (settings.hpp is).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/problem.hpp"
#include "settings/config.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings::detail {

// ---- key tables (the spelling users write) ----
// Structural keys (sections and endpoint maps); the settings themselves are the Field tables.
extern const std::vector<std::string_view> kTopKeys;
extern const std::vector<std::string_view> kEndpointKeys;
extern const std::vector<std::string_view> kDeploymentKeys;
extern const std::vector<std::string_view> kAuthKeysKeys;  // endpoint `keys:` map

// One scalar field of a settings struct. (unsigned and std::uint32_t are the same type here.)
template <class S>
using FieldRef = std::variant<std::string S::*, std::uint32_t S::*, std::uint64_t S::*, bool S::*>;

// What a reload does with a changed value (README "Certificate renewal", last paragraph).
enum class OnReload {
  apply,    // the new value is used from the reload on
  restart,  // kept until the next restart; the rest of the reload is applied
  refuse,   // the reload is refused (RESTART_REQUIRED): the process cannot switch in place
};
// Where an extension key may be given.
enum class Channel {
  any,             // extension: / --config, or protected: / --config-protected
  protected_only,  // protected: / --config-protected only; never printed
};

// One setting, declared once (table.cpp): the key users write, the struct member that holds it
// (its initializer in config.hpp is the default), what a reload does with a change, where it may
// be given and what it is. Loading, flags, `settings show`, write(), unknown-key suggestions and
// restart_required_changes() all iterate these tables; adding a setting is a member plus a row.
template <class S>
struct Field {
  std::string_view key;
  FieldRef<S> ref;
  std::string_view doc;  // one line
  OnReload on_reload = OnReload::apply;
  Channel channel = Channel::any;
  // Canonical spelling of a string value; nullopt keeps it as written for validate() to report.
  std::optional<std::string> (*canonical)(std::string_view) = nullptr;
};
// extension: and protected: (seed spelling); protected-only keys last, the order show() prints.
extern const std::vector<Field<ExtensionSettings>> kExtensionFields;
extern const std::vector<Field<RouterSettings>> kRouterFields;    // router:
extern const std::vector<Field<RequestSettings>> kRequestFields;  // request_settings:
extern const std::vector<Field<ReadinessProbe>> kProbeFields;     // readiness_probe:

template <class S>
std::vector<std::string_view> keys_of(const std::vector<Field<S>>& fields) {
  std::vector<std::string_view> out;
  out.reserve(fields.size());
  for (const auto& f : fields) out.push_back(f.key);
  return out;
}
template <class S>
const Field<S>* find_field(const std::vector<Field<S>>& fields, std::string_view key) {
  for (const auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}
bool is_protected_only(std::string_view key);
bool is_extension_key(std::string_view key);         // a plain one (not protected-only)
std::vector<std::string_view> all_extension_keys();  // plain + protected-only, table order

// ---- scalars ----
std::optional<bool> parse_bool(std::string_view text);
// Plain decimal digits only (no sign, no 0x, no exponent), at most `max`.
std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max);
extern const char* const kBoolSpellings;  // for messages

// A key as it may be shown in messages: setting-name-like keys verbatim, anything else (which
// might be a misplaced value, e.g. a path) is not echoed.
std::string display_key(std::string_view key);
// "'value'", cut to one printable line: for values that are never secret.
std::string quoted(std::string_view value);
// quoted(value) for ordinary settings, "(protected)" for protected ones.
std::string display_value(const Config& c, const std::string& key, std::string_view value);

// Canonical spelling of a service type ("loadbalancer" -> "LoadBalancer"), nullopt if none.
std::optional<std::string> canonical_service_type(std::string_view text);
extern const char* const kServiceTypes;  // for messages

// A deployment's protocol: from "http1", "h2c" or "h2" (exact spelling), nullopt otherwise.
std::optional<UpstreamProtocol> parse_protocol(std::string_view text);
extern const char* const kProtocols;  // for messages

// Records that `key` was set at `where` (explicitly_set + origins).
void record(Config& c, const std::string& key, const std::string& where);

// Sets an extension key from its text (YAML scalar or flag value); reports bad booleans.
// `via_protected`: given under protected: / --config-protected. The caller has already checked
// that `key` is an extension key allowed on that channel.
void set_extension(Config& c, std::string_view key, std::string_view value,
                   const std::string& where, bool via_protected, Problems& problems);

// Sets one field of a settings struct from text; reports type/range problems. hide_value: the
// value is protected, messages say "(protected)" instead of quoting it.
template <class S>
void set_field(S& s, const Field<S>& f, std::string_view value, const std::string& where,
               Problems& problems, bool hide_value = false);

// SETTING_UNKNOWN with the nearest known key in the fix. protected_elsewhere: the place only
// takes plain keys (extension:, --config), so a protected key in `known` is only suggested
// with where it belongs.
void report_unknown(Problems& problems, const std::string& where, std::string_view key,
                    const std::vector<std::string_view>& known, std::string_view level,
                    bool protected_elsewhere = false);

// Records in c.unreadable that the extension key `key` (or, for an unknown key, the known key
// nearest to it) was given but could not be taken.
void mark_unreadable(Config& c, std::string_view key);

bool tls_source_unread(const Config& c);

// sslCname split at ',' with each entry trimmed of spaces and tabs, empty entries kept (for
// validate()'s rule against them); cname_list() builds on it. Views into `text`.
std::vector<std::string_view> cname_entries(std::string_view text);

// ---- addresses ----
bool is_ipv4(std::string_view s);
bool is_ipv6(std::string_view s);
// RFC 1123 host name (labels of letters, digits, '-'); `wildcard` allows a leading "*.".
bool is_hostname(std::string_view s, bool wildcard = false);
std::optional<std::uint16_t> parse_port(std::string_view s);
// "HOST:PORT" with HOST an IPv4 address, [IPv6] or a host name; nullopt or an explanation.
std::optional<std::string> host_port_error(std::string_view s);
// Kubernetes object name (DNS-1123 subdomain): used as a file name under --secrets-dir too.
bool is_k8s_name(std::string_view s);

}  // namespace scoregate::settings::detail

namespace scoregate::settings::detail {

// ---- files ----
struct FileText {
  std::optional<std::string> text;
  std::string error;  // the OS reason (or size/type) when text is empty
};
// Reads a whole file of at most max_bytes. regular_only refuses FIFOs, devices and directories
// without blocking on them (for files named inside the YAML, which nobody typed on purpose).
FileText read_text_file(const std::string& path, std::size_t max_bytes, bool regular_only);

// --config / --config-protected / router flags on top of what the file set (flags.cpp).
void apply_flags(Config& c, const CommandLine& cl, Problems& problems);

}  // namespace scoregate::settings::detail

namespace scoregate::settings::detail {

// ---- validation parts (validate.cpp, validate_endpoints.cpp) ----
// Rules may normalise what they check (service type spelling, targets, implicit traffic).
void validate_extension(Config& c, Purpose purpose, Problems& problems);
void validate_router(const Config& c, Problems& problems);
void validate_endpoints(Config& c, Purpose purpose, Problems& problems);

// Where a value inside endpoints: came from: its recorded origin, else "FILE:LINE: path" from
// the enclosing endpoint/deployment, else just the path.
std::string where_in(const Config& c, const std::string& path, const std::string& file_line);

}  // namespace scoregate::settings::detail
