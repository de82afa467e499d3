#include "routing/routes.hpp"

#include <openssl/rand.h>

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
    endpoints_.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < endpoints_.size(); ++i) by_name_.emplace(endpoints_[i].name, i);
}

const EndpointRoute* RouteTable::find(std::string_view endpoint) const {
  auto it = by_name_.find(endpoint);
  return it == by_name_.end() ? nullptr : &endpoints_[it->second];
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

std::string new_uuid() {
  std::uint64_t hi = fast_random(), lo = fast_random();
  hi = (hi & ~0xF000ull) | 0x4000ull;                  // version 4
  lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48);  // variant 10
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(36, '-');
  std::size_t pos = 0;
  auto put = [&](std::uint64_t v, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[pos++] = hex[(v >> (4 * i)) & 15];
    }
  };
  put(hi, 16);
  put(lo, 16);
  return out;
}

}  // namespace scoregate::routing
