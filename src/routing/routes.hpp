// The compiled route table (sans-IO): scoring paths -> endpoint, key auth, deployment choice,
// request-id rules (README "Requests"; ARCHITECTURE.md "A request, file by file"). Built once per
// settings snapshot; read-only afterwards.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
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
  std::vector<std::string> models;  // Open Inference Protocol model names besides `name`
};

// What a request asks for (README "HTTP/2 and gRPC", "Routing").
enum class RouteKind {
  scoring,         // /api/v1/endpoint/<name>/... or /api/v1/service/<name>/...
  open_inference,  // Open Inference Protocol v2 REST: /v2/models/<model>/..., /v2
  grpc,            // a gRPC call (content-type application/grpc...)
  router_live,     // /v2/health/live: answered by the router itself
  router_ready,    // /v2/health/ready: answered by the router itself
};

// What the router knows of a request before choosing an endpoint. Views into the request.
struct RequestFacts {
  std::string_view target;         // request target (HTTP/2 :path), query included
  std::string_view authority;      // Host / :authority, possibly with a port
  std::string_view grpc_endpoint;  // the azureml-endpoint header, "" when absent
  bool grpc = false;               // content-type starts with "application/grpc"
};

struct Resolved {
  RouteKind kind = RouteKind::scoring;
  const EndpointRoute* endpoint = nullptr;  // null for router_live and router_ready
  std::string forward_target;               // the path (and query) the model receives
};
// No endpoint for the request: the message of the 404 EndpointNotFound, saying what to send.
struct Unresolved {
  std::string message;
};

class RouteTable {
 public:
  explicit RouteTable(const settings::Config& config);
  const EndpointRoute* find(std::string_view endpoint) const;
  // The endpoint serving an Open Inference Protocol model: the endpoint of that name, or the
  // one whose models: lists it.
  const EndpointRoute* find_model(std::string_view model) const;
  const std::vector<EndpointRoute>& endpoints() const { return endpoints_; }
  // Which route a request takes (README "HTTP/2 and gRPC", "Routing").
  std::variant<Resolved, Unresolved> resolve(const RequestFacts& facts) const;

 private:
  std::variant<Resolved, Unresolved> resolve_grpc(const RequestFacts& facts) const;
  std::variant<Resolved, Unresolved> resolve_open_inference(std::string_view target) const;
  const EndpointRoute* by_host(std::string_view authority) const;

  // Owning keys: the table may be copied or moved without the keys dangling.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Index = std::unordered_map<std::string, std::size_t, Hash, std::equal_to<>>;

  std::vector<EndpointRoute> endpoints_;
  Index by_name_;
  Index by_model_;  // endpoint names and every models: entry
};

// "/v2/models/<model>..." -> "<model>" (nullopt when the target is no such path).
std::optional<std::string_view> open_inference_model(std::string_view target);

// The gRPC grpc-timeout header: 1 to 8 ASCII digits and a unit (H, M, S, m, u, n). Sub-
// millisecond values round up, so a non-zero timeout never becomes "no time at all". nullopt
// for anything else.
std::optional<std::chrono::milliseconds> parse_grpc_timeout(std::string_view value);

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

// A request's x-request-id, held inline: a UUID's 36 characters, no allocation per request.
class RequestId {
 public:
  static constexpr std::size_t kSize = 36;
  RequestId() = default;
  // The client's id when it is a UUID (is_uuid), else a new version 4 one (lowercase).
  static RequestId keep_or_make(std::string_view from_client);
  // Empty until keep_or_make() gave it a value (a UUID never starts with a NUL).
  std::string_view view() const {
    return chars_[0] != '\0' ? std::string_view(chars_.data(), kSize) : std::string_view();
  }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)

 private:
  std::array<char, kSize> chars_{};
};

}  // namespace scoregate::routing
