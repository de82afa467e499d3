// `settings show`: the effective settings as YAML in the shape of the settings file, with every
// default written out. Protected values and endpoint keys are replaced, never printed.
// write(): the same shape with the real values, as a settings file load() reads back.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <variant>

#include "settings/internal.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings {
namespace {

constexpr const char* kProtected = "(protected)";
constexpr const char* kSecret = "(secret)";

// show: placeholders instead of protected values and keys, every key present.
// write: real values, protected ones under protected: (so they stay protected when read back),
// unset strings left out (load() would take "" for a value given on purpose).
enum class Mode { show, write };

// "1.2", "10", "yes", "null": text other YAML readers (YAML 1.1: kubectl, PyYAML) would take
// for a number, a boolean or null if written plain; quoted, every reader sees the string.
bool reads_as_non_string(const std::string& v) {
  static const char* const words[] = {"y",  "n",   "yes",  "no", "true", "false",
                                      "on", "off", "null", "~",  ""};
  std::string lower;
  for (char ch : v) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* w : words)
    if (lower == w) return true;
  return v.find_first_not_of("0123456789.+-eE_") == std::string::npos;
}

template <class S>
bool unset_string(const S& s, const detail::Field<S>& f) {
  const auto* member = std::get_if<std::string S::*>(&f.ref);
  return member && (s.**member).empty();
}

// The value of one field. quote_ambiguous: strings other readers would take for something else
// are double-quoted (router: and below; extension: values have always been written plain).
template <class S>
void value(YAML::Emitter& out, const S& s, const detail::Field<S>& f, bool quote_ambiguous) {
  std::visit(
      [&](auto member) {
        using T = std::remove_cv_t<std::remove_reference_t<decltype(s.*member)>>;
        if constexpr (std::is_same_v<T, std::string>) {
          if (quote_ambiguous && reads_as_non_string(s.*member)) out << YAML::DoubleQuoted;
          out << s.*member;
        } else if constexpr (std::is_same_v<T, bool>) {
          out << s.*member;
        } else {
          out << static_cast<unsigned long long>(s.*member);
        }
      },
      f.ref);
}

template <class S>
void fields(YAML::Emitter& out, const S& s, const std::vector<detail::Field<S>>& table,
            Mode mode = Mode::show) {
  out << YAML::BeginMap;
  for (const auto& f : table) {
    if (mode == Mode::write && unset_string(s, f)) continue;
    out << YAML::Key << std::string(f.key) << YAML::Value;
    value(out, s, f, true);
  }
  out << YAML::EndMap;
}

// Whether an extension key is written under protected: rather than extension:. show keeps
// the file's two sections apart by channel only; write also moves keys given as protected,
// so they stay protected when read back.
bool under_protected(const Config& c, const detail::Field<ExtensionSettings>& f, Mode mode) {
  return f.channel == detail::Channel::protected_only ||
         (mode == Mode::write && c.is_protected(std::string(f.key)));
}

void extension_section(YAML::Emitter& out, const Config& c, Mode mode, bool in_protected) {
  const auto& e = c.extension;
  const auto& table = detail::kExtensionFields;
  // write: no protected: section when nothing goes there (show prints it, with "" values).
  if (mode == Mode::write && in_protected && c.protected_keys.empty() &&
      std::all_of(table.begin(), table.end(), [&](const auto& f) {
        return f.channel != detail::Channel::protected_only || unset_string(e, f);
      }))
    return;
  out << YAML::Key << (in_protected ? "protected" : "extension") << YAML::Value << YAML::BeginMap;
  for (const auto& f : table) {
    if (under_protected(c, f, mode) != in_protected) continue;
    if (mode == Mode::write && unset_string(e, f)) continue;
    out << YAML::Key << std::string(f.key) << YAML::Value;
    // An unset string is shown as "" so that every key appears; a protected one that is set
    // as "(protected)", whatever it holds.
    if (mode == Mode::show && c.is_protected(std::string(f.key)) && !unset_string(e, f))
      out << kProtected;
    else
      value(out, e, f, false);
  }
  out << YAML::EndMap;
}

void extension(YAML::Emitter& out, const Config& c, Mode mode) {
  extension_section(out, c, mode, false);
  extension_section(out, c, mode, true);
}

void router(YAML::Emitter& out, const Config& c, Mode mode) {
  RouterSettings r = c.router;
  // What "" means for listen (README "Configuration"); dev mode picks its own before calling
  // show().
  if (r.listen.empty())
    r.listen = c.extension.allow_insecure_connections ? "0.0.0.0:8080" : "0.0.0.0:8443";
  out << YAML::Key << "router" << YAML::Value;
  fields(out, r, detail::kRouterFields, mode);
}

void percentages(YAML::Emitter& out, const char* key,
                 const std::vector<std::pair<std::string, unsigned>>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (const auto& [name, percent] : items) out << YAML::Key << name << YAML::Value << percent;
  out << YAML::EndMap;
}

void deployment(YAML::Emitter& out, const Deployment& d, Mode mode) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << d.name;
  out << YAML::Key << "targets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& t : d.targets) out << t;
  out << YAML::EndSeq;
  out << YAML::Key << "protocol" << YAML::Value << protocol_name(d.protocol);
  out << YAML::Key << "request_settings" << YAML::Value << YAML::Flow;
  fields(out, d.request_settings, detail::kRequestFields);
  if (d.readiness_probe) {
    out << YAML::Key << "readiness_probe" << YAML::Value << YAML::Flow;
    fields(out, *d.readiness_probe, detail::kProbeFields);
  } else if (mode == Mode::show) {
    out << YAML::Key << "readiness_probe" << YAML::Value << YAML::Null;
  }
  out << YAML::EndMap;
}

// show: whether a key is set, and from where, helps; the key and its file name do not belong
// there. write: the values, left out when there are none (auth_mode: none).
void keys(YAML::Emitter& out, const Endpoint& ep, Mode mode) {
  const std::pair<const char*, const std::string*> inline_keys[] = {
      {"primary", &ep.primary_key}, {"secondary", &ep.secondary_key}};
  const std::string* files[] = {&ep.primary_key_file, &ep.secondary_key_file};
  if (mode == Mode::write && ep.primary_key.empty() && ep.secondary_key.empty() &&
      files[0]->empty() && files[1]->empty())
    return;
  out << YAML::Key << "keys" << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (std::size_t i = 0; i < 2; ++i) {
    const bool from_file = !files[i]->empty();
    const std::string& value = from_file ? *files[i] : *inline_keys[i].second;
    if (mode == Mode::write && value.empty()) continue;
    out << YAML::Key << (std::string(inline_keys[i].first) + (from_file ? "_file" : ""))
        << YAML::Value;
    if (mode == Mode::write)
      out << value;
    else
      out << (value.empty() ? "" : kSecret);
  }
  out << YAML::EndMap;
}

void endpoint(YAML::Emitter& out, const Endpoint& ep, Mode mode) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << ep.name;
  out << YAML::Key << "auth_mode" << YAML::Value
      << (ep.auth_mode == AuthMode::key ? "key" : "none");
  keys(out, ep, mode);
  // An empty traffic: written by hand differs from none (see Endpoint::traffic_set).
  if (mode == Mode::show || ep.traffic_set || !ep.traffic.empty())
    percentages(out, "traffic", ep.traffic);
  if (mode == Mode::show || !ep.mirror_traffic.empty())
    percentages(out, "mirror_traffic", ep.mirror_traffic);
  if (mode == Mode::show || !ep.models.empty()) {
    out << YAML::Key << "models" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    // Quoted when another reader would take a name for a number or a boolean ("1.0", "yes").
    for (const auto& m : ep.models) {
      if (reads_as_non_string(m)) out << YAML::DoubleQuoted;
      out << m;
    }
    out << YAML::EndSeq;
  }
  out << YAML::Key << "deployments" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : ep.deployments) deployment(out, d, mode);
  out << YAML::EndSeq;
  out << YAML::EndMap;
}

std::string emit(const Config& config, Mode mode) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  extension(out, config, mode);
  router(out, config, mode);
  out << YAML::Key << "endpoints" << YAML::Value << YAML::BeginSeq;
  for (const auto& ep : config.endpoints) endpoint(out, ep, mode);
  out << YAML::EndSeq;
  out << YAML::EndMap;
  if (!out.good())
    return "# the settings could not be written as YAML: " + out.GetLastError() + "\n";
  return std::string(out.c_str()) + "\n";
}

}  // namespace

std::string show(const Config& config) { return emit(config, Mode::show); }

std::string write(const Config& config) { return emit(config, Mode::write); }

}  // namespace scoregate::settings
