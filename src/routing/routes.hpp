// The compiled route table (sans-IO): scoring paths -> endpoint, key auth, deployment choice,
// request-id rules (README "Requests"; ARCHITECTURE.md "A request, file by file"). Built once per
// settings snapshot; read-only afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "settings/config.hpp"

namespace scoregate::routing {

struct EndpointRoute {
  std::string name;
  std::size_t index = 0;  // position in the settings' endpoint list
  settings::AuthMode auth = settings::AuthMode::key;
  std::string primary_key, secondary_key;
  std::vector<std::string> deployments;  // names; a deployment's id is its index here
  std::vector<unsigned> traffic;         // percent per deployment (sum 0 or 100)
  int mirror_deployment = -1;
  unsigned mirror_percent = 0;
};

class RouteTable {
 public:
  explicit RouteTable(const settings::Config& config);
  const EndpointRoute* find(std::string_view endpoint) const;
  const std::vector<EndpointRoute>& endpoints() const { return endpoints_; }

 private:
  std::vector<EndpointRoute> endpoints_;
  std::unordered_map<std::string_view, std::size_t> by_name_;
};

// "/api/v1/endpoint/<name>/<rest>" and "/api/v1/service/<name>/<rest>" (legacy).
struct ScoringPath {
  std::string_view endpoint;
  std::string forward_target;  // "/<rest>" with the query kept; "/" when rest is empty
};
std::optional<ScoringPath> parse_scoring_path(std::string_view target);

enum class AuthResult { ok, missing, wrong };
// Checks "Authorization: Bearer <key>" against both keys, always comparing both in
// constant time so the reply time does not tell which key (or how much of it) matched.
AuthResult authenticate(const EndpointRoute& endpoint, std::string_view authorization);

struct DeploymentChoice {
  int deployment = -1;  // -1: nothing to serve the request
  bool by_header = false;
};
// header: the azureml-model-deployment value ("" = absent); roll: uniform in [0, 100).
DeploymentChoice choose_deployment(const EndpointRoute& endpoint, std::string_view header,
                                   unsigned roll);
// The deployment a copy goes to, or -1. roll: uniform in [0, 100).
int choose_mirror(const EndpointRoute& endpoint, int serving, unsigned roll);

// x-request-id: kept when it is a UUID (8-4-4-4-12 hex digits), else replaced.
bool is_uuid(std::string_view s);
// x-ms-client-request-id: only [A-Za-z0-9_-] kept, at most 40 characters.
std::string sanitize_client_request_id(std::string_view s);

// Per-thread fast random numbers (xoshiro256**, seeded from the OpenSSL CSPRNG): request
// ids and traffic rolls need uniqueness and uniformity, not secrecy.
std::uint64_t fast_random();
std::string new_uuid();  // version 4, lowercase

}  // namespace scoregate::routing
