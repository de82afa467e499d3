#include "routing/routes.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "core/secure.hpp"

namespace scoregate::routing {

RouteTable::RouteTable(const settings::Config& config) {
  endpoints_.reserve(config.endpoints.size());
  for (std::size_t i = 0; i < config.endpoints.size(); ++i) {
    const auto& e = config.endpoints[i];
    EndpointRoute r;
    r.name = e.name;
    r.index = i;
    r.auth = e.auth_mode;
    r.primary_key = e.primary_key;
    r.secondary_key = e.secondary_key;
    for (const auto& d : e.deployments) r.deployments.push_back(d.name);
    r.traffic.assign(r.deployments.size(), 0);
    auto index_of = [&](const std::string& name) -> int {
      for (std::size_t j = 0; j < r.deployments.size(); ++j)
        if (r.deployments[j] == name) return static_cast<int>(j);
      return -1;
    };
    for (const auto& [name, pct] : e.traffic)
      if (int j = index_of(name); j >= 0) r.traffic[static_cast<std::size_t>(j)] = pct;
    for (const auto& [name, pct] : e.mirror_traffic)
      if (int j = index_of(name); j >= 0) {
        r.mirror_deployment = j;
        r.mirror_percent = pct;
      }
    r.models = e.models;
    endpoints_.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    by_name_.emplace(endpoints_[i].name, i);
    by_model_.emplace(endpoints_[i].name, i);
  }
  // Validation makes every model name unique and no other endpoint's name; emplace keeps the
  // first claim for configs built in code.
  for (std::size_t i = 0; i < endpoints_.size(); ++i)
    for (const auto& m : endpoints_[i].models) by_model_.emplace(m, i);
}

const EndpointRoute* RouteTable::find(std::string_view endpoint) const {
  auto it = by_name_.find(endpoint);
  return it == by_name_.end() ? nullptr : &endpoints_[it->second];
}

const EndpointRoute* RouteTable::find_model(std::string_view model) const {
  auto it = by_model_.find(model);
  return it == by_model_.end() ? nullptr : &endpoints_[it->second];
}

namespace {

constexpr std::size_t kShownName = 64;  // longest piece of a request quoted in a message

std::string endpoint_not_found() {
  return "no scoring endpoint at this path; use /api/v1/endpoint/<endpoint>/<path> or "
         "/api/v1/service/<endpoint>/<path>";
}

Unresolved no_endpoint_named(std::string_view name) {
  return {"no endpoint named '" + std::string(name.substr(0, kShownName)) + "'"};
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// "/package.Service/Method": two non-empty segments, as every gRPC call's :path is.
bool is_grpc_method_path(std::string_view path) {
  if (path.size() < 4 || path.front() != '/') return false;
  const auto slash = path.find('/', 1);
  return slash != std::string_view::npos && slash > 1 && slash + 1 < path.size() &&
         path.find('/', slash + 1) == std::string_view::npos;
}

char ascii_lower(char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

}  // namespace

std::variant<Resolved, Unresolved> RouteTable::resolve(const RequestFacts& facts) const {
  if (auto path = parse_scoring_path(facts.target)) {
    const EndpointRoute* ep = find(path->endpoint);
    if (ep == nullptr) return no_endpoint_named(path->endpoint);
    return Resolved{facts.grpc ? RouteKind::grpc : RouteKind::scoring, ep,
                    std::move(path->forward_target)};
  }
  if (facts.grpc) return resolve_grpc(facts);
  const std::string_view path = path_of(facts.target);
  if (path == "/v2/health/live") return Resolved{RouteKind::router_live, nullptr, {}};
  if (path == "/v2/health/ready") return Resolved{RouteKind::router_ready, nullptr, {}};
  if (path == "/v2" || path.substr(0, 4) == "/v2/") return resolve_open_inference(facts.target);
  return Unresolved{endpoint_not_found()};
}

// The endpoint of a gRPC call: the azureml-endpoint header, else the host name's first label,
// else the only endpoint.
std::variant<Resolved, Unresolved> RouteTable::resolve_grpc(const RequestFacts& facts) const {
  if (!is_grpc_method_path(path_of(facts.target)) ||
      facts.target.find('?') != std::string_view::npos)
    return Unresolved{
        "no gRPC method at this path; a gRPC call's path is /<package.Service>/<Method>, "
        "e.g. /inference.GRPCInferenceService/ModelInfer"};
  const EndpointRoute* ep = nullptr;
  if (!facts.grpc_endpoint.empty()) {
    ep = find(facts.grpc_endpoint);
    if (ep == nullptr) return no_endpoint_named(facts.grpc_endpoint);
  } else if ((ep = by_host(facts.authority)) == nullptr) {
    if (endpoints_.size() != 1)
      return Unresolved{std::to_string(endpoints_.size()) +
                        " endpoints: send the azureml-endpoint metadata header or use a host name "
                        "starting with the endpoint name"};
    ep = &endpoints_.front();
  }
  return Resolved{RouteKind::grpc, ep, std::string(facts.target)};
}

// "fraud.models.example.com:443" -> endpoint "fraud" (host names ignore case). An IP address or
// a name whose first label is no endpoint gives nullptr.
const EndpointRoute* RouteTable::by_host(std::string_view authority) const {
  if (authority.empty() || authority.front() == '[') return nullptr;
  const std::string_view label = authority.substr(0, authority.find_first_of(".:"));
  if (label.empty()) return nullptr;
  if (const EndpointRoute* ep = find(label)) return ep;
  for (const auto& ep : endpoints_)
    if (equal_ignoring_case(ep.name, label)) return &ep;
  return nullptr;
}

std::variant<Resolved, Unresolved> RouteTable::resolve_open_inference(
    std::string_view target) const {
  const std::string_view path = path_of(target);
  if (path == "/v2" || path == "/v2/") {
    if (endpoints_.size() == 1)
      return Resolved{RouteKind::open_inference, &endpoints_.front(), std::string(target)};
    return Unresolved{std::to_string(endpoints_.size()) +
                      " endpoints: server metadata (/v2) is answered only with one endpoint; ask a "
                      "model instead: /v2/models/<model>"};
  }
  auto model = open_inference_model(target);
  if (!model) return Unresolved{endpoint_not_found()};
  const EndpointRoute* ep = find_model(*model);
  if (ep == nullptr)
    return Unresolved{"no endpoint serves model '" + std::string(model->substr(0, kShownName)) +
                      "'; a model is an endpoint's name or listed in its models:"};
  return Resolved{RouteKind::open_inference, ep, std::string(target)};
}

std::optional<std::string_view> open_inference_model(std::string_view target) {
  constexpr std::string_view prefix = "/v2/models/";
  const std::string_view path = path_of(target);
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view model = path.substr(prefix.size());
  model = model.substr(0, model.find('/'));
  if (model.empty()) return std::nullopt;
  return model;
}

std::optional<std::chrono::milliseconds> parse_grpc_timeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  std::int64_t n = 0;
  for (char ch : value.substr(0, value.size() - 1)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  using std::chrono::ceil;
  using std::chrono::milliseconds;
  switch (value.back()) {
    case 'H':
      return milliseconds(std::chrono::hours(n));
    case 'M':
      return milliseconds(std::chrono::minutes(n));
    case 'S':
      return milliseconds(std::chrono::seconds(n));
    case 'm':
      return milliseconds(n);
    case 'u':
      return ceil<milliseconds>(std::chrono::microseconds(n));
    case 'n':
      return ceil<milliseconds>(std::chrono::nanoseconds(n));
    default:
      return std::nullopt;
  }
}

std::optional<ScoringPath> parse_scoring_path(std::string_view target) {
  std::string_view rest;
  for (std::string_view prefix :
       {std::string_view("/api/v1/endpoint/"), std::string_view("/api/v1/service/")}) {
    if (target.substr(0, prefix.size()) == prefix) {
      rest = target.substr(prefix.size());
      break;
    }
  }
  if (rest.empty()) return std::nullopt;
  auto end = rest.find_first_of("/?");
  ScoringPath p;
  p.endpoint = rest.substr(0, end);
  if (p.endpoint.empty()) return std::nullopt;
  if (end == std::string_view::npos) {
    p.forward_target = "/";
  } else if (rest[end] == '?') {
    p.forward_target = "/";
    p.forward_target += rest.substr(end);
  } else {
    p.forward_target = rest.substr(end);
  }
  return p;
}

AuthResult authenticate(const EndpointRoute& endpoint, std::string_view authorization) {
  if (endpoint.auth == settings::AuthMode::none) return AuthResult::ok;
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return AuthResult::missing;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if ((authorization[i] | 0x20) != scheme[i]) return AuthResult::missing;
  auto key = authorization.substr(scheme.size());
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
  if (key.empty()) return AuthResult::missing;
  bool a = constant_time_equal(key, endpoint.primary_key);
  bool b = constant_time_equal(key, endpoint.secondary_key);
  return (a | b) ? AuthResult::ok : AuthResult::wrong;
}

DeploymentChoice choose_deployment(const EndpointRoute& endpoint, std::string_view header,
                                   unsigned roll) {
  if (!header.empty()) {
    for (std::size_t j = 0; j < endpoint.deployments.size(); ++j)
      if (endpoint.deployments[j] == header) return {static_cast<int>(j), true};
    return {-1, true};
  }
  unsigned acc = 0;
  for (std::size_t j = 0; j < endpoint.traffic.size(); ++j) {
    acc += endpoint.traffic[j];
    if (roll < acc) return {static_cast<int>(j), false};
  }
  return {-1, false};
}

int choose_mirror(const EndpointRoute& endpoint, int serving, unsigned roll) {
  if (endpoint.mirror_deployment < 0 || endpoint.mirror_deployment == serving) return -1;
  return roll < endpoint.mirror_percent ? endpoint.mirror_deployment : -1;
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string sanitize_client_request_id(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() == 40) break;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-')
      out += c;
  }
  return out;
}

namespace {
struct Xoshiro {
  std::uint64_t s[4];
  Xoshiro() {
    while (RAND_bytes(reinterpret_cast<unsigned char*>(s), sizeof s) != 1 ||
           (s[0] | s[1] | s[2] | s[3]) == 0) {
    }
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t next() {
    std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};
}  // namespace

std::uint64_t fast_random() {
  thread_local Xoshiro rng;
  return rng.next();
}

namespace {
// A version 4 UUID, lowercase, into out[0..36).
void write_uuid(char* out) {
  std::uint64_t hi = fast_random(), lo = fast_random();
  hi = (hi & ~0xF000ull) | 0x4000ull;                  // version 4
  lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48);  // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  std::size_t pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) out[pos++] = '-';
      out[pos++] = hex[(v >> (4 * i)) & 15];
    }
  };
  put(hi, 16);
  put(lo, 16);
}
}  // namespace

RequestId RequestId::keep_or_make(std::string_view from_client) {
  RequestId id;
  if (is_uuid(from_client))  // exactly kSize characters
    std::memcpy(id.chars_.data(), from_client.data(), kSize);
  else
    write_uuid(id.chars_.data());
  return id;
}

}  // namespace scoregate::routing
