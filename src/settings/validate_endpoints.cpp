// The rules of endpoints: and their deployments (README "Configuration", `endpoints:`): names,
// targets, keys, traffic, mirroring, request settings and readiness probes.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "settings/internal.hpp"

namespace scoregate::settings::detail {

namespace {

constexpr std::uint16_t kDefaultModelPort = 5001;
constexpr std::size_t kShortKey = 16;

// Endpoint and deployment names appear in URIs and headers: a letter, then 2-31 letters,
// digits or '-'. nullopt when fine, else why not.
std::optional<std::string> name_problem(std::string_view n) {
  if (n.empty()) return std::string("it has no name");
  if (n.size() < 3 || n.size() > 32) return std::string("it is not 3 to 32 characters long");
  if (!std::isalpha(static_cast<unsigned char>(n.front())))
    return std::string("it does not start with a letter");
  if (!std::all_of(n.begin(), n.end(),
                   [](unsigned char ch) { return std::isalnum(ch) || ch == '-'; }))
    return std::string("it has characters other than letters, digits and '-'");
  return std::nullopt;
}

// "host[:port]", "[v6][:port]" or "dns:NAME:PORT" -> the same with the port always written.
std::optional<std::string> normalise_target(std::string_view t, std::string& why) {
  auto fail = [&](const char* reason) {
    why = reason;
    return std::optional<std::string>();
  };
  auto with_port = [&](const std::string& host,
                       std::string_view port) -> std::optional<std::string> {
    auto n = parse_port(port);
    if (!n || *n == 0) return fail("the port is not a number from 1 to 65535");
    return std::optional<std::string>(host + ":" + std::to_string(*n));
  };
  if (t.substr(0, 4) == "dns:") {
    std::string_view rest = t.substr(4);
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("dns: targets need a port (dns:NAME:PORT)");
    if (!is_hostname(rest.substr(0, colon))) return fail("the part after dns: is not a host name");
    return with_port("dns:" + std::string(rest.substr(0, colon)), rest.substr(colon + 1));
  }
  if (!t.empty() && t.front() == '[') {
    auto close = t.find(']');
    if (close == std::string_view::npos || !is_ipv6(t.substr(1, close - 1)))
      return fail("the part in [] is not an IPv6 address");
    std::string host(t.substr(0, close + 1));
    if (close + 1 == t.size()) return with_port(host, std::to_string(kDefaultModelPort));
    if (t[close + 1] != ':') return fail("expected ':PORT' after ']'");
    return with_port(host, t.substr(close + 2));
  }
  auto colon = t.find(':');
  if (colon != std::string_view::npos && t.find(':', colon + 1) != std::string_view::npos)
    return fail("IPv6 addresses must be written in [], e.g. [fd00::5]:5001");
  std::string_view host = t.substr(0, colon);
  if (!is_ipv4(host) && !is_hostname(host))
    return fail("the host is neither an IPv4 address nor a host name");
  if (colon == std::string_view::npos)
    return with_port(std::string(host), std::to_string(kDefaultModelPort));
  return with_port(std::string(host), t.substr(colon + 1));
}

bool has_deployment(const Endpoint& ep, const std::string& name) {
  return std::any_of(ep.deployments.begin(), ep.deployments.end(),
                     [&](const Deployment& d) { return d.name == name; });
}

std::string deployment_names(const Endpoint& ep) {
  std::string out;
  for (const auto& d : ep.deployments) out += (out.empty() ? "" : ", ") + quoted(d.name);
  return out.empty() ? "it has none" : out;
}

void targets(const Config& c, Deployment& d, const std::string& path, Problems& p) {
  if (d.targets.empty()) {
    p.error("DEPLOYMENT_NO_TARGETS", where_in(c, path, d.where),
            "deployment " + quoted(d.name) + " has no targets",
            "list the model pods under targets:, e.g. targets: [ \"10.0.0.5:5001\" ] or "
            "[ \"dns:blue.fraud.svc.cluster.local:5001\" ]");
    return;
  }
  for (std::size_t i = 0; i < d.targets.size(); ++i) {
    std::string why;
    if (auto normal = normalise_target(d.targets[i], why)) {
      d.targets[i] = *normal;
      continue;
    }
    const std::string at = path + ".targets[" + std::to_string(i) + "]";
    p.error("TARGET_INVALID", where_in(c, at, d.where),
            "target " + quoted(d.targets[i]) + " is not valid: " + why,
            "write HOST:PORT, [IPv6]:PORT, HOST (port 5001) or dns:NAME:PORT, e.g. "
            "10.0.0.5:5001 or dns:blue.fraud.svc.cluster.local:5001");
  }
}

void request_settings(const Config& c, const Deployment& d, const std::string& path, Problems& p) {
  const auto& r = d.request_settings;
  struct Rule {
    const char* key;
    std::uint32_t value, lo, hi;
  };
  for (const Rule& rule : {Rule{"request_timeout_ms", r.request_timeout_ms, 1, 300000},
                           Rule{"max_concurrent_requests_per_instance",
                                r.max_concurrent_requests_per_instance, 1, 10000},
                           Rule{"max_queue_wait_ms", r.max_queue_wait_ms, 0, 300000},
                           Rule{"max_queue_length", r.max_queue_length, 0, 100000}}) {
    if (rule.value >= rule.lo && rule.value <= rule.hi) continue;
    const std::string key = path + ".request_settings." + rule.key;
    const std::string range = std::to_string(rule.lo) + " to " + std::to_string(rule.hi);
    p.error("REQUEST_SETTINGS_RANGE", where_in(c, key, d.where),
            std::string(rule.key) + " is " + std::to_string(rule.value) + ", outside " + range,
            "set request_settings." + std::string(rule.key) + " to a value from " + range);
  }
}

void probe(const Config& c, const Deployment& d, const std::string& path, Problems& p) {
  if (!d.readiness_probe) return;
  const auto& r = *d.readiness_probe;
  const std::string base = path + ".readiness_probe";
  auto bad = [&](const std::string& key, const std::string& what, const std::string& fix) {
    p.error("PROBE_INVALID", where_in(c, base + "." + key, d.where), what, fix);
  };
  // The path goes into an HTTP request line: no spaces or control characters.
  const bool path_ok = !r.path.empty() && r.path.front() == '/' &&
                       std::all_of(r.path.begin(), r.path.end(),
                                   [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; });
  if (!path_ok)
    bad("path", "readiness_probe.path " + quoted(r.path) + " is not a URL path",
        "write a path starting with '/' without spaces, e.g. path: /");
  const std::pair<const char*, std::uint32_t> thresholds[] = {
      {"success_threshold", r.success_threshold}, {"failure_threshold", r.failure_threshold}};
  for (const auto& [key, value] : thresholds)
    if (value < 1)
      bad(key, std::string(key) + " is 0", std::string("set ") + key + " to 1 or more");
  // A *_ms value, when given, replaces the seconds; a day is the sanity bound for both.
  struct Interval {
    const char* key;
    std::uint32_t s, ms;
    bool zero_ok;
  };
  for (const Interval& i :
       {Interval{"period", r.period_s, r.period_ms, false},
        Interval{"timeout", r.timeout_s, r.timeout_ms, false},
        Interval{"initial_delay", r.initial_delay_s, r.initial_delay_ms, true}}) {
    const bool by_ms = i.ms != 0;
    const std::uint64_t ms = by_ms ? i.ms : std::uint64_t{i.s} * 1000;
    if ((ms >= 1 || i.zero_ok) && ms <= 86400000) continue;
    const std::string key = std::string(i.key) + (by_ms ? "_ms" : "");
    bad(key,
        key + " is " + std::to_string(by_ms ? i.ms : i.s) + ", outside " + (i.zero_ok ? "0" : "1") +
            (by_ms ? " to 86400000 ms" : " to 86400 s"),
        "set " + key + " to a value in that range, e.g. " + i.key + ": 10");
  }
}

void deployments(Config& c, Endpoint& ep, const std::string& path, Problems& p) {
  if (ep.deployments.empty())
    p.error("ENDPOINT_NO_DEPLOYMENTS", where_in(c, path, ep.where),
            "endpoint " + quoted(ep.name) + " has no deployments",
            "add deployments: with at least one deployment (name: and targets:)");
  std::map<std::string, std::string> seen;  // name -> where
  for (std::size_t i = 0; i < ep.deployments.size(); ++i) {
    Deployment& d = ep.deployments[i];
    const std::string dpath = path + ".deployments[" + std::to_string(i) + "]";
    const std::string at = where_in(c, dpath + ".name", d.where);
    if (auto why = name_problem(d.name))
      p.error("DEPLOYMENT_NAME_INVALID", at,
              "deployment name " + quoted(d.name) + " is not valid: " + *why,
              "use 3 to 32 letters, digits or '-', starting with a letter, e.g. name: blue");
    else if (auto [it, fresh] = seen.emplace(d.name, at); !fresh)
      p.error("DEPLOYMENT_DUPLICATE", at,
              "deployment " + quoted(d.name) + " appears twice in endpoint " + quoted(ep.name) +
                  " (first at " + it->second + ")",
              "give each deployment of an endpoint its own name");
    targets(c, d, dpath, p);
    request_settings(c, d, dpath, p);
    probe(c, d, dpath, p);
  }
}

void auth(const Config& c, const Endpoint& ep, const std::string& path, Problems& p) {
  const std::string at = where_in(c, path + ".keys", ep.where);
  if (ep.auth_mode == AuthMode::none) {
    p.warning(
        "AUTH_NONE", where_in(c, path + ".auth_mode", ep.where),
        "endpoint " + quoted(ep.name) + " has auth_mode: none: anyone who can reach it can call it",
        "use auth_mode: none only on internal clusters and for benchmarks; otherwise "
        "remove it (key is the default) and set keys.primary");
    return;
  }
  if (ep.primary_key.empty() && ep.primary_key_file.empty())
    p.error("AUTH_KEY_MISSING", at,
            "endpoint " + quoted(ep.name) + " uses key auth but has no primary key",
            "set keys: { primary_file: /path/to/key } (or keys.primary), or say auth_mode: none "
            "explicitly for an internal endpoint");
  const std::pair<const char*, const std::string*> keys[] = {{"primary", &ep.primary_key},
                                                             {"secondary", &ep.secondary_key}};
  for (const auto& [which, key] : keys) {
    if (key->empty()) continue;
    const std::string kat = where_in(c, path + ".keys." + which, ep.where);
    // Clients send the key in a header: visible ASCII only.
    if (!std::all_of(key->begin(), key->end(),
                     [](unsigned char ch) { return ch > 0x20 && ch < 0x7f; }))
      p.error("SETTING_INVALID_VALUE", kat,
              std::string("the ") + which +
                  " key has spaces or characters that cannot be "
                  "sent in an Authorization header",
              "use printable ASCII without spaces, e.g. a base64 or hex random string");
    else if (key->size() < kShortKey)
      p.warning("AUTH_KEY_SHORT", kat,
                std::string("the ") + which +
                    " key is shorter than 16 characters and easy to "
                    "guess",
                "use a random key of at least 32 characters, e.g. head -c 32 /dev/urandom | "
                "base64");
  }
}

void traffic(Config& c, Endpoint& ep, const std::string& path, Problems& p) {
  if (!ep.traffic_set) {
    if (ep.deployments.size() == 1) {
      ep.traffic = {{ep.deployments.front().name, 100}};
    } else if (ep.deployments.size() > 1) {
      p.warning("TRAFFIC_NONE", where_in(c, path, ep.where),
                "endpoint " + quoted(ep.name) + " has " + std::to_string(ep.deployments.size()) +
                    " deployments and no traffic: requests without an azureml-model-deployment "
                    "header get 404",
                "add traffic: with percentages adding up to 100, e.g. traffic: { " +
                    ep.deployments.front().name +
                    ": 100 }, or send azureml-model-deployment: "
                    "NAME with every request");
    }
    return;
  }
  std::uint64_t sum = 0;
  for (const auto& [name, percent] : ep.traffic) {
    sum += percent;
    const bool known = has_deployment(ep, name);
    if (!known)
      p.error("TRAFFIC_UNKNOWN_DEPLOYMENT",
              where_in(c, path + ".traffic." + display_key(name), ep.where),
              "traffic names " + quoted(name) +
                  ", which is not a deployment of "
                  "endpoint " +
                  quoted(ep.name),
              "use one of its deployments (" + deployment_names(ep) + "), or remove that entry");
  }
  if (sum != 0 && sum != 100)
    p.error(
        "TRAFFIC_SUM", where_in(c, path + ".traffic", ep.where),
        "traffic percentages of endpoint " + quoted(ep.name) + " add up to " + std::to_string(sum),
        "make them add up to 100 (or all 0 to route only by the azureml-model-deployment "
        "header)");
}

void mirror(const Config& c, const Endpoint& ep, const std::string& path, Problems& p) {
  const std::string at = where_in(c, path + ".mirror_traffic", ep.where);
  if (ep.mirror_traffic.size() > 1)
    p.error("MIRROR_INVALID", at,
            "mirror_traffic names " + std::to_string(ep.mirror_traffic.size()) +
                " deployments; at most one may receive mirrored traffic",
            "keep one entry, e.g. mirror_traffic: { green: 10 }");
  for (const auto& [name, percent] : ep.mirror_traffic) {
    const bool known = has_deployment(ep, name);
    const std::string eat = where_in(c, path + ".mirror_traffic." + display_key(name), ep.where);
    if (!known)
      p.error("MIRROR_INVALID", eat,
              "mirror_traffic names " + quoted(name) + ", which is not a deployment of endpoint " +
                  quoted(ep.name),
              "use one of its deployments (" + deployment_names(ep) + ")");
    if (percent < 1 || percent > 50)
      p.error("MIRROR_INVALID", eat,
              "mirror_traffic for " + quoted(name) + " is " + std::to_string(percent) +
                  "%, outside 1 to 50",
              "mirror from 1 to 50 percent of the requests, or remove mirror_traffic");
  }
}

// Open Inference Protocol v2 model names: they travel in the URL path (/v2/models/<model>/...),
// so the characters are those of a path segment that needs no escaping.
bool valid_model_name(std::string_view m) {
  auto ok = [](unsigned char ch) {
    return std::isalnum(ch) || ch == '_' || ch == '.' || ch == '-';
  };
  return !m.empty() && m.size() <= 128 && std::isalnum(static_cast<unsigned char>(m.front())) &&
         std::all_of(m.begin(), m.end(), ok);
}

// Every model name leads to one endpoint: /v2/models/<model> is looked up among the endpoint
// names and all models: lists together (README "HTTP/2 and gRPC").
struct ModelClaims {
  std::set<std::string> endpoint_names;
  std::map<std::string, std::pair<std::string, std::string>> seen;  // model -> endpoint, where
};

void model(const Endpoint& ep, const std::string& m, const std::string& at, ModelClaims& claims,
           Problems& p) {
  if (!valid_model_name(m)) {
    p.error("ENDPOINT_MODEL_INVALID", at,
            "model name " + quoted(m) + " of endpoint " + quoted(ep.name) +
                " is not valid: it must be 1 to 128 letters, digits, '_', '.' or '-', starting "
                "with a letter or digit",
            "rename it, e.g. models: [ fraud-xgb ]; clients send it in the path "
            "/v2/models/<model>/infer");
    return;
  }
  // An endpoint always serves its own name: listing it too is harmless.
  if (m != ep.name && claims.endpoint_names.count(m)) {
    p.error("ENDPOINT_MODEL_IS_ENDPOINT", at,
            "endpoint " + quoted(ep.name) + " lists model " + quoted(m) +
                ", which is the name of another endpoint (that endpoint serves /v2/models/" + m +
                ")",
            "remove " + quoted(m) + " from the models: of endpoint " + quoted(ep.name) +
                ", or rename one of them");
    return;
  }
  auto [it, fresh] = claims.seen.emplace(m, std::make_pair(ep.name, at));
  if (fresh) return;
  const std::string& first = it->second.first;
  p.error(
      "ENDPOINT_MODEL_DUPLICATE", at,
      "model " + quoted(m) + " is listed " +
          (first == ep.name ? "twice by endpoint " + quoted(ep.name)
                            : "by endpoints " + quoted(first) + " and " + quoted(ep.name)) +
          " (first at " + it->second.second + ")",
      "list each model once, under one endpoint: /v2/models/" + m + " must lead to one endpoint");
}

void models(const Config& c, Problems& p) {
  ModelClaims claims;
  for (const auto& ep : c.endpoints) claims.endpoint_names.insert(ep.name);
  for (std::size_t i = 0; i < c.endpoints.size(); ++i) {
    const Endpoint& ep = c.endpoints[i];
    for (std::size_t j = 0; j < ep.models.size(); ++j) {
      const std::string path =
          "endpoints[" + std::to_string(i) + "].models[" + std::to_string(j) + "]";
      model(ep, ep.models[j], where_in(c, path, ep.where), claims, p);
    }
  }
}

}  // namespace

void validate_endpoints(Config& c, Purpose purpose, Problems& p) {
  if (purpose == Purpose::serve && c.endpoints.empty())
    p.warning("NO_ENDPOINTS",
              c.is_set("endpoints") ? c.where_of("endpoints")
                                    : (c.source.empty() ? "endpoints" : c.source),
              "no endpoints are configured: every scoring request will get 404",
              "add endpoints: with at least one endpoint (name:, keys:, deployments:) to the "
              "settings file");
  std::map<std::string, std::string> seen;  // name -> where
  for (std::size_t i = 0; i < c.endpoints.size(); ++i) {
    Endpoint& ep = c.endpoints[i];
    const std::string path = "endpoints[" + std::to_string(i) + "]";
    const std::string at = where_in(c, path + ".name", ep.where);
    if (auto why = name_problem(ep.name))
      p.error("ENDPOINT_NAME_INVALID", at,
              "endpoint name " + quoted(ep.name) + " is not valid: " + *why,
              "use 3 to 32 letters, digits or '-', starting with a letter, e.g. name: fraud");
    else if (auto [it, fresh] = seen.emplace(ep.name, at); !fresh)
      p.error("ENDPOINT_DUPLICATE", at,
              "endpoint name " + quoted(ep.name) + " is used twice (first at " + it->second + ")",
              "give each endpoint its own name; scoring URIs select endpoints by name");
    deployments(c, ep, path, p);
    auth(c, ep, path, p);
    traffic(c, ep, path, p);
    mirror(c, ep, path, p);
  }
  models(c, p);
}

}  // namespace scoregate::settings::detail
