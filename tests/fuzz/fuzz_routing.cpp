// libFuzzer target for request resolution (routing::RouteTable::resolve, README "HTTP/2 and
// gRPC", "Routing") and the gRPC timeout header: whatever a client sends as :path, :authority or
// azureml-endpoint, resolving never crashes and a resolved route is well formed. Input: one flag
// byte (bit 0: gRPC), then target, authority and header separated by 0xFF bytes; the grpc-timeout
// parser gets the whole input.
#include <cstdint>
#include <string>
#include <string_view>

#include "routing/routes.hpp"

namespace {

using namespace scoregate;

settings::Config config(std::size_t endpoints) {
  settings::Config c;
  const char* const names[] = {"fraud", "churn", "Mixed-Case"};
  for (std::size_t i = 0; i < endpoints; ++i) {
    settings::Endpoint e;
    e.name = names[i];
    if (i == 0) e.models = {"fraud-xgb", "fraud.onnx_v2"};
    settings::Deployment d;
    d.name = "blue";
    e.deployments = {d};
    c.endpoints.push_back(e);
  }
  return c;
}

std::string_view next_part(std::string_view& rest) {
  const auto end = rest.find('\xff');
  const std::string_view part = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return part;
}

void check(const routing::RouteTable& table, const routing::RequestFacts& facts) {
  auto result = table.resolve(facts);
  const auto* r = std::get_if<routing::Resolved>(&result);
  if (r == nullptr) {
    if (std::get<routing::Unresolved>(result).message.empty()) __builtin_trap();
    return;
  }
  const bool router_own =
      r->kind == routing::RouteKind::router_live || r->kind == routing::RouteKind::router_ready;
  if (router_own != (r->endpoint == nullptr)) __builtin_trap();
  if (router_own) return;
  // The endpoint is one of the table's, and the model gets a path.
  const auto& all = table.endpoints();
  if (r->endpoint < all.data() || r->endpoint >= all.data() + all.size()) __builtin_trap();
  if (r->forward_target.empty() || r->forward_target.front() != '/') __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const routing::RouteTable none(config(0)), one(config(1)), three(config(3));
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  routing::RequestFacts facts;
  facts.grpc = (data[0] & 1) != 0;
  facts.target = next_part(rest);
  facts.authority = next_part(rest);
  facts.grpc_endpoint = next_part(rest);
  for (const auto* table : {&none, &one, &three}) check(*table, facts);
  (void)routing::open_inference_model(facts.target);
  if (auto t = routing::parse_grpc_timeout(rest); t && t->count() < 0) __builtin_trap();
  return 0;
}
