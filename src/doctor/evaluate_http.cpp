// The HTTP verdicts of `scoregate doctor` (the TLS and DNS ones are in evaluate.cpp).
#include <nlohmann/json.hpp>

#include <map>

#include "doctor/evaluate.hpp"

namespace scoregate::doctor {

namespace {

// README "Requests": the router's own error codes and what to do about each.
const std::map<std::string, std::string>& router_codes() {
  static const std::map<std::string, std::string> codes = {
      {"BadRequest", "the router refused the request as malformed: report it"},
      {"RequestHeaderTooLarge", "the request head is over router.max_header_bytes"},
      {"RequestBodyTooLarge", "the request body is over router.max_body_bytes"},
      {"Unauthorized", "use the endpoint's primary or secondary key (endpoints[].keys)"},
      {"EndpointNotFound", "check the endpoint name (--endpoint) against endpoints[].name"},
      {"DeploymentNotFound", "the azureml-model-deployment header names no deployment"},
      {"NoTrafficDeployment", "give a deployment traffic (endpoints[].traffic)"},
      {"TooManyRequests", "the deployment is busy: raise its slots or queue, or add instances"},
      {"UpstreamConnectFailed",
       "no model target accepted a connection: check the targets (pods, ports) in the settings"},
      {"UpstreamReset", "the model closed the connection before answering: see the model's log"},
      {"UpstreamMalformedResponse", "the model did not answer with valid HTTP: check its port"},
      {"UpstreamWriteFailed", "the model's connection failed while sending: see the model's log"},
      {"NoReadyInstance", "no target is ready: check the model pods and their readiness probe"},
      {"UpstreamTimeout", "the model did not answer within request_timeout_ms"},
  };
  return codes;
}

Check make(std::string id, Status status, std::string message, std::string fix = {}) {
  return Check{std::move(id), status, std::move(message), std::move(fix)};
}

std::string no_answer_fix() {
  return "check that the router runs and listens on this port (kubectl get pods,svc -n azureml)";
}

}  // namespace

std::optional<std::string> router_error_code(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return std::nullopt;
  const auto& code = j["error"]["code"];
  if (!code.is_string() || router_codes().count(code.get<std::string>()) == 0) return std::nullopt;
  return code.get<std::string>();
}

Check check_without_key(const std::string& uri, const HttpAnswer& a) {
  const std::string id = "http.auth";
  if (a.status == 0)
    return make(id, Status::fail, "POST " + uri + " got no answer: " + a.error, no_answer_fix());
  const auto code = router_error_code(a.body);
  const std::string got = std::to_string(a.status) + (code ? " " + *code : "");
  if (a.status == 401 && code == "Unauthorized")
    return make(id, Status::pass, "POST " + uri + " without a key: 401 (key auth is on)");
  if (!code)
    return make(id, Status::warn,
                "POST " + uri + " without a key reached the model (" + got + "): auth is off",
                "set auth_mode: key on the endpoint unless it is meant to be open");
  return make(id, Status::fail, "POST " + uri + " without a key: " + got, router_codes().at(*code));
}

Check check_with_key(const std::string& uri, const HttpAnswer& a, const std::string& key_from) {
  const std::string id = "http.model";
  const std::string with_key = key_from.empty() ? "with the key" : "with the key from " + key_from;
  if (a.status == 0)
    return make(id, Status::fail, "POST " + uri + " got no answer: " + a.error, no_answer_fix());
  const auto code = router_error_code(a.body);
  if (!code)
    return make(id, Status::pass,
                "POST " + uri + " " + with_key + " reached the model (it answered " +
                    std::to_string(a.status) + ")");
  const Status s = *code == "TooManyRequests" ? Status::warn : Status::fail;
  return make(id, s,
              "POST " + uri + " " + with_key + ": the router answered " + std::to_string(a.status) +
                  " " + *code,
              router_codes().at(*code));
}

Check check_http2(const std::string& alpn) {
  if (alpn == "h2") return make("http.h2", Status::pass, "HTTP/2 offered (ALPN h2)");
  return make("http.h2", Status::info,
              "HTTP/2 not offered (ALPN: " + (alpn.empty() ? std::string("none") : alpn) +
                  "); HTTP/1.1 only (router.http2 turns it on)");
}

}  // namespace scoregate::doctor
