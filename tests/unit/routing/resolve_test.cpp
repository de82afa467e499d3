// RouteTable::resolve (README "HTTP/2 and gRPC", "Routing") and parse_grpc_timeout.
#include <gtest/gtest.h>

#include "routing/routes.hpp"

namespace scoregate::routing {
namespace {

settings::Config endpoints(
    std::initializer_list<std::pair<const char*, std::vector<std::string>>> names_and_models) {
  settings::Config c;
  for (const auto& [name, models] : names_and_models) {
    settings::Endpoint e;
    e.name = name;
    e.models = models;
    settings::Deployment d;
    d.name = "blue";
    e.deployments = {d};
    c.endpoints.push_back(e);
  }
  return c;
}

// By value: the variant is usually a temporary.
Resolved resolved(const std::variant<Resolved, Unresolved>& v) {
  if (const auto* u = std::get_if<Unresolved>(&v)) {
    ADD_FAILURE() << "unresolved: " << u->message;
    return {};
  }
  return std::get<Resolved>(v);
}

std::string unresolved(const std::variant<Resolved, Unresolved>& v) {
  EXPECT_TRUE(std::holds_alternative<Unresolved>(v));
  return std::holds_alternative<Unresolved>(v) ? std::get<Unresolved>(v).message : "";
}

std::string name_of(const Resolved& r) { return r.endpoint ? r.endpoint->name : "<none>"; }

RequestFacts rest(std::string_view target) { return {target, "scoring.example.com", "", false}; }
RequestFacts grpc(std::string_view target, std::string_view authority,
                  std::string_view header = "") {
  return {target, authority, header, true};
}

TEST(Resolve, ScoringPathsAsBefore) {
  RouteTable t(endpoints({{"fraud", {}}, {"churn", {}}}));
  const Resolved r = resolved(t.resolve(rest("/api/v1/endpoint/fraud/score?x=1")));
  EXPECT_EQ(r.kind, RouteKind::scoring);
  EXPECT_EQ(name_of(r), "fraud");
  EXPECT_EQ(r.forward_target, "/score?x=1");
  const Resolved legacy = resolved(t.resolve(rest("/api/v1/service/churn")));
  EXPECT_EQ(name_of(legacy), "churn");
  EXPECT_EQ(legacy.forward_target, "/");
  EXPECT_EQ(unresolved(t.resolve(rest("/api/v1/endpoint/nope/score"))), "no endpoint named 'nope'");
  const std::string anything = unresolved(t.resolve(rest("/score")));
  EXPECT_NE(anything.find("/api/v1/endpoint/<endpoint>/<path>"), std::string::npos) << anything;
  EXPECT_EQ(unresolved(t.resolve(rest("/api/v1/endpoint/"))), anything);
  // A long name is cut in the message.
  const std::string long_name(500, 'x');
  EXPECT_LT(unresolved(t.resolve(rest("/api/v1/endpoint/" + long_name + "/s"))).size(), 100u);
}

TEST(Resolve, GrpcByHeaderThenHostThenOnlyEndpoint) {
  RouteTable t(endpoints({{"fraud", {}}, {"churn", {}}}));
  const std::string method = "/inference.GRPCInferenceService/ModelInfer";
  // 1. the azureml-endpoint header wins over the host name.
  auto r = resolved(t.resolve(grpc(method, "fraud.models.example.com", "churn")));
  EXPECT_EQ(r.kind, RouteKind::grpc);
  EXPECT_EQ(name_of(r), "churn");
  EXPECT_EQ(r.forward_target, method);
  EXPECT_EQ(unresolved(t.resolve(grpc(method, "fraud.example.com", "nope"))),
            "no endpoint named 'nope'");
  // 2. the first label of the host name, port stripped, case ignored.
  EXPECT_EQ(name_of(resolved(t.resolve(grpc(method, "fraud.models.example.com:8443")))), "fraud");
  EXPECT_EQ(name_of(resolved(t.resolve(grpc(method, "CHURN.example.com")))), "churn");
  EXPECT_EQ(name_of(resolved(t.resolve(grpc(method, "fraud:8443")))), "fraud");
  // 3. several endpoints and no way to choose.
  for (const char* authority : {"scoring.example.com", "10.0.0.1:8443", "[::1]:8443", "", "."}) {
    const std::string m = unresolved(t.resolve(grpc(method, authority)));
    EXPECT_NE(m.find("2 endpoints"), std::string::npos) << m;
    EXPECT_NE(m.find("azureml-endpoint"), std::string::npos) << m;
  }
  RouteTable one(endpoints({{"fraud", {}}}));
  EXPECT_EQ(name_of(resolved(one.resolve(grpc(method, "10.0.0.1:8443")))), "fraud");
  RouteTable none(settings::Config{});
  EXPECT_NE(unresolved(none.resolve(grpc(method, "x"))).find("0 endpoints"), std::string::npos);
}

TEST(Resolve, GrpcPathShape) {
  RouteTable t(endpoints({{"fraud", {}}}));
  for (const char* bad : {"/", "/x", "//Method", "/pkg.Svc/", "/a/b/c", "/pkg.Svc/M?x=1", "x/y"})
    EXPECT_NE(unresolved(t.resolve(grpc(bad, "fraud"))).find("/<package.Service>/<Method>"),
              std::string::npos)
        << bad;
  // Under the scoring prefix, the prefix is stripped and the call stays gRPC.
  auto r = resolved(t.resolve(grpc(
      "/api/v1/endpoint/fraud/inference.GRPCInferenceService/ModelInfer", "other.example.com")));
  EXPECT_EQ(r.kind, RouteKind::grpc);
  EXPECT_EQ(name_of(r), "fraud");
  EXPECT_EQ(r.forward_target, "/inference.GRPCInferenceService/ModelInfer");
}

TEST(Resolve, OpenInferenceHealthIsTheRouters) {
  RouteTable t(endpoints({{"fraud", {}}, {"churn", {}}}));
  auto live = resolved(t.resolve(rest("/v2/health/live")));
  EXPECT_EQ(live.kind, RouteKind::router_live);
  EXPECT_EQ(live.endpoint, nullptr);
  auto ready = resolved(t.resolve(rest("/v2/health/ready?verbose=1")));
  EXPECT_EQ(ready.kind, RouteKind::router_ready);
  EXPECT_EQ(ready.endpoint, nullptr);
  EXPECT_FALSE(std::holds_alternative<Resolved>(t.resolve(rest("/v2/health/lively"))));
}

TEST(Resolve, OpenInferenceModelsByEndpointNameOrModelsList) {
  RouteTable t(endpoints({{"fraud", {"fraud-xgb", "fraud.onnx"}}, {"churn", {}}}));
  const std::pair<const char*, const char*> cases[] = {
      {"/v2/models/fraud", "fraud"},
      {"/v2/models/fraud/ready", "fraud"},
      {"/v2/models/fraud-xgb/infer", "fraud"},
      {"/v2/models/fraud.onnx/versions/3", "fraud"},
      {"/v2/models/fraud.onnx/versions/3/ready", "fraud"},
      {"/v2/models/fraud-xgb/versions/1/infer?trace=1", "fraud"},
      {"/v2/models/churn/infer", "churn"},
      {"/v2/models/churn?x", "churn"},
  };
  for (const auto& [target, name] : cases) {
    const Resolved r = resolved(t.resolve(rest(target)));
    EXPECT_EQ(r.kind, RouteKind::open_inference) << target;
    EXPECT_EQ(name_of(r), name) << target;
    EXPECT_EQ(r.forward_target, target) << "the model sees the path unchanged";
  }
  EXPECT_EQ(t.find_model("fraud-xgb"), t.find("fraud"));
  EXPECT_EQ(t.find_model("churn"), t.find("churn"));
  EXPECT_EQ(t.find_model("nope"), nullptr);
  const std::string m = unresolved(t.resolve(rest("/v2/models/nope/infer")));
  EXPECT_NE(m.find("'nope'"), std::string::npos) << m;
  EXPECT_NE(m.find("models:"), std::string::npos) << m;
  for (const char* bad : {"/v2/models", "/v2/models/", "/v2/models//infer", "/v2/repository"})
    EXPECT_FALSE(std::holds_alternative<Resolved>(t.resolve(rest(bad)))) << bad;
  // Model names are exact: the model server's names are case-sensitive.
  EXPECT_FALSE(std::holds_alternative<Resolved>(t.resolve(rest("/v2/models/FRAUD/infer"))));
}

TEST(Resolve, ServerMetadataNeedsExactlyOneEndpoint) {
  RouteTable one(endpoints({{"fraud", {}}}));
  for (const char* target : {"/v2", "/v2/"}) {
    const Resolved r = resolved(one.resolve(rest(target)));
    EXPECT_EQ(r.kind, RouteKind::open_inference);
    EXPECT_EQ(name_of(r), "fraud");
    EXPECT_EQ(r.forward_target, target);
  }
  RouteTable two(endpoints({{"fraud", {}}, {"churn", {}}}));
  const std::string m = unresolved(two.resolve(rest("/v2")));
  EXPECT_NE(m.find("2 endpoints"), std::string::npos) << m;
  EXPECT_NE(m.find("/v2/models/<model>"), std::string::npos) << m;
}

TEST(Resolve, TheTableMayBeCopied) {
  auto make = [] { return RouteTable(endpoints({{"fraud", {"fraud-xgb"}}})); };
  RouteTable copy = make();  // the original is gone: its keys must not be needed
  RouteTable other(endpoints({{"churn", {}}}));
  other = copy;
  EXPECT_EQ(name_of(resolved(other.resolve(rest("/v2/models/fraud-xgb/infer")))), "fraud");
  EXPECT_EQ(other.find("fraud"), &other.endpoints().front());
}

TEST(GrpcTimeout, UnitsAndRounding) {
  using std::chrono::milliseconds;
  EXPECT_EQ(parse_grpc_timeout("1H"), milliseconds(3600000));
  EXPECT_EQ(parse_grpc_timeout("2M"), milliseconds(120000));
  EXPECT_EQ(parse_grpc_timeout("3S"), milliseconds(3000));
  EXPECT_EQ(parse_grpc_timeout("250m"), milliseconds(250));
  EXPECT_EQ(parse_grpc_timeout("1500u"), milliseconds(2));
  EXPECT_EQ(parse_grpc_timeout("1n"), milliseconds(1));
  EXPECT_EQ(parse_grpc_timeout("0m"), milliseconds(0));
  EXPECT_EQ(parse_grpc_timeout("00000007S"), milliseconds(7000));
  EXPECT_EQ(parse_grpc_timeout("99999999H"), milliseconds(99999999LL * 3600000));
}

TEST(GrpcTimeout, AnythingElseIsNotATimeout) {
  for (const char* bad : {"", "S", "5", "123456789S", "1s", "1h", "-1S", "+1S", " 1S", "1S ",
                          "1.5S", "1x", "0x1S", "١S"})
    EXPECT_FALSE(parse_grpc_timeout(bad).has_value()) << bad;
}

}  // namespace
}  // namespace scoregate::routing
