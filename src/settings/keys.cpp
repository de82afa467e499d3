// Structural key lists (sections, endpoint maps), the typo suggester and scalar parsing shared by
// the YAML and flag readers. The settings themselves are declared in table.cpp.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "settings/internal.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings {
namespace detail {

const std::vector<std::string_view> kTopKeys = {"extension", "protected", "router", "endpoints"};
const std::vector<std::string_view> kEndpointKeys = {
    "name", "auth_mode", "keys", "traffic", "mirror_traffic", "deployments", "models"};
const std::vector<std::string_view> kDeploymentKeys = {"name", "targets", "protocol",
                                                       "request_settings", "readiness_probe"};
const std::vector<std::string_view> kAuthKeysKeys = {"primary", "secondary", "primary_file",
                                                     "secondary_file"};

const char* const kBoolSpellings = "True, False, true or false";
const char* const kServiceTypes = "LoadBalancer, NodePort or ClusterIP";
const char* const kProtocols = "http1, h2c or h2";

std::optional<UpstreamProtocol> parse_protocol(std::string_view text) {
  for (auto p : {UpstreamProtocol::http1, UpstreamProtocol::h2c, UpstreamProtocol::h2})
    if (text == protocol_name(p)) return p;
  return std::nullopt;
}

std::optional<bool> parse_bool(std::string_view text) {
  if (text == "True" || text == "true") return true;
  if (text == "False" || text == "false") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max) return std::nullopt;
  return v;
}

std::string display_key(std::string_view key) {
  bool name_like =
      !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](unsigned char ch) {
        return std::isalnum(ch) || ch == '_' || ch == '-' || ch == '.';
      });
  return name_like ? std::string(key) : std::string("<key not shown>");
}

std::string display_value(const Config& c, const std::string& key, std::string_view value) {
  return c.is_protected(key) ? std::string("(protected)") : quoted(value);
}

std::string quoted(std::string_view value) {
  // Values are shown to help find the mistake, but as one line of printable text: a value may
  // hold newlines or escape sequences that would garble a terminal or a log line.
  std::string out = "'";
  for (unsigned char ch : value.substr(0, 80)) out += std::isprint(ch) ? char(ch) : '?';
  if (value.size() > 80) out += "...";
  return out + "'";
}

std::optional<std::string> canonical_service_type(std::string_view text) {
  for (std::string_view t : {"LoadBalancer", "NodePort", "ClusterIP"}) {
    if (t.size() == text.size() && std::equal(t.begin(), t.end(), text.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return std::string(t);
  }
  return std::nullopt;
}

void record(Config& c, const std::string& key, const std::string& where) {
  if (!c.is_set(key)) c.explicitly_set.push_back(key);
  c.origins[key] = where;
}

void report_unknown(Problems& problems, const std::string& where, std::string_view key,
                    const std::vector<std::string_view>& known, std::string_view level,
                    bool protected_elsewhere) {
  std::string near = nearest_key(key, known);
  std::string fix;
  if (near.empty()) {
    fix = "remove it; the keys allowed " + std::string(level) + " are ";
    bool first = true;
    for (std::string_view k : known) {
      if (protected_elsewhere && is_protected_only(k)) continue;
      fix += (first ? "" : ", ") + std::string(k);
      first = false;
    }
  } else {
    fix = "did you mean " + near + "? Otherwise remove it";
    if (protected_elsewhere && is_protected_only(near))
      fix += " (" + near +
             " is configuration-protected: put it under protected: or pass it with "
             "--config-protected)";
  }
  problems.error("SETTING_UNKNOWN", where,
                 "unknown key " + display_key(key) + " " + std::string(level), fix);
}

void mark_unreadable(Config& c, std::string_view key) {
  if (is_extension_key(key) || is_protected_only(key)) {
    c.unreadable.insert(std::string(key));
    return;
  }
  // A misspelling stands for the key it is nearest to; a key like nothing known shadows none.
  if (std::string near = nearest_key(key, all_extension_keys()); !near.empty())
    c.unreadable.insert(near);
}

}  // namespace detail

const char* protocol_name(UpstreamProtocol p) {
  switch (p) {
    case UpstreamProtocol::h2c:
      return "h2c";
    case UpstreamProtocol::h2:
      return "h2";
    case UpstreamProtocol::http1:
      break;
  }
  return "http1";
}

bool Config::is_set(const std::string& key) const {
  return std::find(explicitly_set.begin(), explicitly_set.end(), key) != explicitly_set.end();
}

bool Config::unread(const std::string& key) const {
  if (unreadable.count(key)) return true;
  const bool extension_key = detail::is_extension_key(key) || detail::is_protected_only(key);
  return extension_key && unreadable.count("extension");
}

bool Config::is_protected(const std::string& key) const {
  return detail::is_protected_only(key) ||
         std::find(protected_keys.begin(), protected_keys.end(), key) != protected_keys.end();
}

std::string Config::where_of(const std::string& key) const {
  auto it = origins.find(key);
  return it == origins.end() ? key : it->second;
}

namespace {

char lower(char ch) { return static_cast<char>(std::tolower(static_cast<unsigned char>(ch))); }

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), ignoring case.
std::size_t typo_distance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
          lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

}  // namespace

std::string nearest_key(std::string_view unknown, const std::vector<std::string_view>& known) {
  // Longer than any key plus slack cannot be a typo of one (and bounds the work on junk input).
  if (unknown.empty() || unknown.size() > 64) return "";
  // One edit per three characters, 1..3: "foo" may not become "fmt", "sslcname" may.
  const std::size_t allowed = std::clamp<std::size_t>(unknown.size() / 3, 1, 3);
  std::string best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view k : known) {
    std::size_t dist = typo_distance(unknown, k);
    if (dist <= allowed && dist < best_distance && dist < k.size()) {
      best_distance = dist;
      best = std::string(k);
    }
  }
  return best;
}

}  // namespace scoregate::settings
