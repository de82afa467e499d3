// `settings show`: the effective settings as YAML in the shape of the settings file, with every
// default written out. Protected values and endpoint keys are replaced, never printed.
#include <yaml-cpp/yaml.h>

#include "settings/internal.hpp"
#include "settings/settings.hpp"

namespace scoregate::settings {
namespace {

constexpr const char* kProtected = "(protected)";
constexpr const char* kSecret = "(secret)";

// An unset string is shown as "" so that every key appears; a protected one that is set as
// "(protected)", whatever it holds.
void string_setting(YAML::Emitter& out, const Config& c, const std::string& key,
                    const std::string& value) {
  out << YAML::Key << key << YAML::Value;
  if (!value.empty() && c.is_protected(key))
    out << kProtected;
  else
    out << value;
}

// A boolean given under protected: / --config-protected is hidden like any protected value.
void bool_setting(YAML::Emitter& out, const Config& c, const std::string& key, bool value) {
  out << YAML::Key << key << YAML::Value;
  if (c.is_protected(key))
    out << kProtected;
  else
    out << value;
}

void extension(YAML::Emitter& out, const Config& c) {
  const auto& e = c.extension;
  out << YAML::Key << "extension" << YAML::Value << YAML::BeginMap;
  bool_setting(out, c, "allowInsecureConnections", e.allow_insecure_connections);
  string_setting(out, c, "sslSecret", e.ssl_secret);
  string_setting(out, c, "sslCname", e.ssl_cname);
  string_setting(out, c, "inferenceRouterServiceType", e.inference_router_service_type);
  bool_setting(out, c, "enableInference", e.enable_inference);
  bool_setting(out, c, "inferenceRouterHA", e.inference_router_ha);
  out << YAML::EndMap;
  out << YAML::Key << "protected" << YAML::Value << YAML::BeginMap;
  string_setting(out, c, "sslCertPemFile", e.ssl_cert_pem_file);
  string_setting(out, c, "sslKeyPemFile", e.ssl_key_pem_file);
  out << YAML::EndMap;
}

template <class S>
void fields(YAML::Emitter& out, const S& s, const std::vector<detail::Field<S>>& table) {
  out << YAML::BeginMap;
  for (const auto& f : table) {
    out << YAML::Key << std::string(f.key) << YAML::Value;
    std::visit(
        [&](auto member) {
          using T = std::remove_cv_t<std::remove_reference_t<decltype(s.*member)>>;
          if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>)
            out << s.*member;
          else
            out << static_cast<unsigned long long>(s.*member);
        },
        f.ref);
  }
  out << YAML::EndMap;
}

void router(YAML::Emitter& out, const Config& c) {
  RouterSettings r = c.router;
  // What "" means for listen (DESIGN §3b); dev mode picks its own before calling show().
  if (r.listen.empty())
    r.listen = c.extension.allow_insecure_connections ? "0.0.0.0:8080" : "0.0.0.0:8443";
  out << YAML::Key << "router" << YAML::Value;
  fields(out, r, detail::kRouterFields);
}

void percentages(YAML::Emitter& out, const char* key,
                 const std::vector<std::pair<std::string, unsigned>>& items) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginMap;
  for (const auto& [name, percent] : items) out << YAML::Key << name << YAML::Value << percent;
  out << YAML::EndMap;
}

void deployment(YAML::Emitter& out, const Deployment& d) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << d.name;
  out << YAML::Key << "targets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& t : d.targets) out << t;
  out << YAML::EndSeq;
  out << YAML::Key << "request_settings" << YAML::Value << YAML::Flow;
  fields(out, d.request_settings, detail::kRequestFields);
  out << YAML::Key << "readiness_probe" << YAML::Value;
  if (d.readiness_probe) {
    out << YAML::Flow;
    fields(out, *d.readiness_probe, detail::kProbeFields);
  } else {
    out << YAML::Null;
  }
  out << YAML::EndMap;
}

void endpoint(YAML::Emitter& out, const Endpoint& ep) {
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << ep.name;
  out << YAML::Key << "auth_mode" << YAML::Value
      << (ep.auth_mode == AuthMode::key ? "key" : "none");
  // Whether a key is set, and from where, helps; the key and its file name do not belong here.
  out << YAML::Key << "keys" << YAML::Value << YAML::Flow << YAML::BeginMap;
  const std::pair<const char*, const std::string*> keys[] = {{"primary", &ep.primary_key},
                                                             {"secondary", &ep.secondary_key}};
  const std::string* files[] = {&ep.primary_key_file, &ep.secondary_key_file};
  for (std::size_t i = 0; i < 2; ++i) {
    const bool from_file = !files[i]->empty();
    out << YAML::Key << (std::string(keys[i].first) + (from_file ? "_file" : "")) << YAML::Value
        << (keys[i].second->empty() && !from_file ? "" : kSecret);
  }
  out << YAML::EndMap;
  percentages(out, "traffic", ep.traffic);
  percentages(out, "mirror_traffic", ep.mirror_traffic);
  out << YAML::Key << "deployments" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : ep.deployments) deployment(out, d);
  out << YAML::EndSeq;
  out << YAML::EndMap;
}

}  // namespace

std::string show(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  extension(out, config);
  router(out, config);
  out << YAML::Key << "endpoints" << YAML::Value << YAML::BeginSeq;
  for (const auto& ep : config.endpoints) endpoint(out, ep);
  out << YAML::EndSeq;
  out << YAML::EndMap;
  if (!out.good())
    return "# the settings could not be written as YAML: " + out.GetLastError() + "\n";
  return std::string(out.c_str()) + "\n";
}

}  // namespace scoregate::settings
