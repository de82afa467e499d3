// YAML `endpoints:` -> Config::endpoints. Shapes and types only; the rules between values
// (names, traffic sums, ranges) are validate()'s.
#include "settings/yaml_reader.hpp"

namespace scoregate::settings::detail {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

std::string strip_trailing_space(std::string s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.pop_back();
  return s;
}

}  // namespace

void YamlReader::endpoints(const YAML::Node& seq) {
  if (seq.IsNull()) return;
  if (!seq.IsSequence())
    return wrong_type(seq, "endpoints", "a list of endpoints (each line starting with '- ')");
  std::size_t i = 0;
  for (const auto& item : seq)
    if (spend(item)) endpoint(item, i++);
}

// Paths use the index in Config::endpoints (not in the YAML list, which differs once an item
// was refused) so validate() finds the origins; messages carry the line number anyway.
void YamlReader::endpoint(const YAML::Node& map, std::size_t yaml_index) {
  if (!map.IsMap())
    return wrong_type(map, "endpoints[" + std::to_string(yaml_index) + "]",
                      "a map with name:, deployments:, ...");
  const std::string path = "endpoints[" + std::to_string(c_.endpoints.size()) + "]";
  Endpoint ep;
  ep.where = file_line(map);
  c_.origins[path] = where(map, path);
  each_entry(map, path, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::string sub = path + "." + display_key(k);
    const std::string at = where(key, sub);
    c_.origins[sub] = at;
    if (k == "name") {
      if (auto text = scalar(v, at, k)) ep.name = *text;
    } else if (k == "auth_mode") {
      auto text = scalar(v, at, k);
      if (text && *text == "key")
        ep.auth_mode = AuthMode::key;
      else if (text && *text == "none")
        ep.auth_mode = AuthMode::none;
      else if (text)
        p_.error("SETTING_INVALID_VALUE", at, "auth_mode must be key or none, got " + quoted(*text),
                 "write auth_mode: key (clients send Authorization: Bearer KEY) or, for "
                 "internal clusters and benchmarks only, auth_mode: none");
    } else if (k == "keys") {
      auth_keys(ep, v, sub);
    } else if (k == "traffic") {
      ep.traffic_set = true;
      percentages(ep.traffic, v, sub);
    } else if (k == "mirror_traffic") {
      percentages(ep.mirror_traffic, v, sub);
    } else if (k == "models") {
      string_list(ep.models, v, sub, "a list of model names, e.g. [ fraud-xgb, fraud-onnx ]");
    } else if (k == "deployments") {
      if (v.IsNull()) return;
      if (!v.IsSequence()) return wrong_type(v, sub, "a list of deployments");
      std::size_t j = 0;
      for (const auto& d : v)
        if (spend(d)) deployment(ep, d, sub, j++);
    } else {
      report_unknown(p_, at, k, kEndpointKeys, "under an endpoint");
    }
  });
  c_.endpoints.push_back(std::move(ep));
}

void YamlReader::deployment(Endpoint& ep, const YAML::Node& map, const std::string& list,
                            std::size_t yaml_index) {
  if (!map.IsMap())
    return wrong_type(map, list + "[" + std::to_string(yaml_index) + "]",
                      "a map with name:, targets:, ...");
  const std::string path = list + "[" + std::to_string(ep.deployments.size()) + "]";
  Deployment d;
  d.where = file_line(map);
  c_.origins[path] = where(map, path);
  std::optional<std::pair<std::string, std::string>> bad_protocol;  // value, where
  each_entry(map, path, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::string sub = path + "." + display_key(k);
    const std::string at = where(key, sub);
    c_.origins[sub] = at;
    if (k == "name") {
      if (auto text = scalar(v, at, k)) d.name = *text;
    } else if (k == "targets") {
      string_list(d.targets, v, sub);
    } else if (k == "protocol") {
      auto text = scalar(v, at, k);
      if (auto protocol = text ? parse_protocol(*text) : std::nullopt)
        d.protocol = *protocol;
      else if (text)
        bad_protocol.emplace(*text, at);
    } else if (k == "request_settings") {
      fields(d.request_settings, kRequestFields, v, sub);
    } else if (k == "readiness_probe") {
      // `readiness_probe: {}` probes with the defaults; `readiness_probe: ~` (as show() writes
      // "no probe") leaves targets always ready.
      if (!v.IsNull()) fields(d.readiness_probe.emplace(), kProbeFields, v, sub);
    } else {
      report_unknown(p_, at, k, kDeploymentKeys, "under a deployment");
    }
  });
  // Reported once the map is read, so the message can name the deployment wherever name: is.
  if (bad_protocol)
    p_.error("DEPLOYMENT_PROTOCOL_INVALID", bad_protocol->second,
             "deployment " + quoted(d.name) + " of endpoint " + quoted(ep.name) + " has protocol " +
                 quoted(bad_protocol->first) + ", which is not one of " + kProtocols,
             std::string("write protocol: http1 (HTTP/1.1, the default), h2c (HTTP/2 without "
                         "TLS, e.g. a gRPC server) or h2 (HTTP/2 over TLS, verified against "
                         "router.trusted_ca_file and the system store)"));
  ep.deployments.push_back(std::move(d));
}

void YamlReader::auth_keys(Endpoint& ep, const YAML::Node& map, const std::string& path) {
  each_entry(map, path, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::string sub = path + "." + display_key(k);
    const std::string at = where(key, sub);
    c_.origins[sub] = at;
    const bool primary = k == "primary" || k == "primary_file";
    if (!primary && k != "secondary" && k != "secondary_file")
      return report_unknown(p_, at, k, kAuthKeysKeys, "under keys:");
    auto text = scalar(v, at, k);  // never echoes: these are secrets or point at them
    if (!text) return;
    std::string& key_value = primary ? ep.primary_key : ep.secondary_key;
    std::string& key_file = primary ? ep.primary_key_file : ep.secondary_key_file;
    const std::string which = primary ? "primary" : "secondary";
    if (!key_value.empty() || !key_file.empty()) {
      p_.error("SETTING_INVALID_VALUE", at,
               "the " + which + " key is given both inline and as a file",
               "keep either keys." + which + " or keys." + which + "_file");
      return;
    }
    if (k == which) {
      key_value = *text;
      return;
    }
    key_file = *text;
    auto file = read_text_file(*text, kMaxKeyFileBytes, true);
    std::string content = file.text ? strip_trailing_space(*file.text) : std::string();
    if (content.empty())
      p_.error("AUTH_KEY_FILE_UNREADABLE", at,
               "cannot read the " + which + " key file: " +
                   (file.text ? std::string("it holds no key (empty)") : file.error),
               "make " + k +
                   " name a readable regular file (at most 64 KiB) that holds the "
                   "key, e.g. created with: head -c 32 /dev/urandom | base64 > FILE");
    key_value = std::move(content);
  });
}

void YamlReader::percentages(std::vector<std::pair<std::string, unsigned>>& out,
                             const YAML::Node& map, const std::string& path) {
  each_entry(map, path, [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
    const std::string sub = path + "." + display_key(k);
    const std::string at = where(key, sub);
    c_.origins[sub] = at;
    auto text = scalar(v, at, k);
    if (!text) return;
    if (auto n = parse_uint(*text, 100)) {
      out.emplace_back(k, static_cast<unsigned>(*n));
    } else {
      p_.error("SETTING_INVALID_VALUE", at,
               "the percentage for " + display_key(k) +
                   " must be a whole number from 0 to "
                   "100, got " +
                   quoted(*text),
               "write a whole percentage without '%', e.g. " + display_key(k) + ": 10");
    }
  });
}

void YamlReader::string_list(std::vector<std::string>& out, const YAML::Node& seq,
                             const std::string& path, std::string_view expected) {
  if (seq.IsNull()) return;
  if (!seq.IsSequence()) return wrong_type(seq, path, expected);
  std::size_t i = 0;
  for (const auto& item : seq) {
    if (!spend(item)) return;
    const std::string at = where(item, path + "[" + std::to_string(i++) + "]");
    if (auto text = scalar(item, at, path)) {
      c_.origins[path + "[" + std::to_string(out.size()) + "]"] = at;  // as for endpoints
      out.push_back(*text);
    }
  }
}

}  // namespace scoregate::settings::detail
