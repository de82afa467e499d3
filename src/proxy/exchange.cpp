#include "proxy/exchange.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/this_coro.hpp>

#include "http/serialize.hpp"

#include <boost/beast/core/string.hpp>

namespace scoregate::proxy {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

asio::awaitable<void> Proxy::handle(http::ServerStream& conn) {
  Exchange x(conn, worker_);
  co_await x.run();
}

Exchange::Exchange(http::ServerStream& conn, WorkerContext& worker)
    : conn_(conn), worker_(worker), plan_(worker.plan), start_(Clock::now()) {}

asio::awaitable<void> Exchange::run() {
  ex_ = co_await asio::this_coro::executor;
  WorkerCounters::add(worker_.counters.requests);
  const auto& req = conn_.request();
  auto rid = req.find("x-request-id");
  request_id_ = routing::RequestId::keep_or_make(rid);
  client_request_id_ = routing::sanitize_client_request_id(req.find("x-ms-client-request-id"));
  auto type = req.find(bhttp::field::content_type);
  grpc_ = type.size() >= 16 && boost::beast::iequals(type.substr(0, 16), "application/grpc");
  if (grpc_) grpc_timeout_ = routing::parse_grpc_timeout(req.find("grpc-timeout"));
  protocol_index_ = grpc_ ? 2 : conn_.protocol() == http::Protocol::h2 ? 1 : 0;
  WorkerCounters::add(worker_.counters.requests_by_protocol[protocol_index_]);
  WorkerCounters::add(worker_.counters.in_flight[protocol_index_]);

  auto refusal = resolve_route();
  if (!refusal && (route_kind_ == routing::RouteKind::router_live ||
                   route_kind_ == routing::RouteKind::router_ready)) {
    co_await answer_health();
    co_return account();
  }
  if (!refusal) refusal = authenticate();
  if (!refusal) refusal = choose_deployment();
  if (refusal) {
    co_await reply(refusal->status, refusal->code, std::move(refusal->message));
  } else {
    // Phase 4 without suspending when a slot is free (the common case), else wait in line.
    if (co_await read_small_body()) {
      slot_ = deployment_->state->gate->try_admit(tried_);
      if (slot_ || co_await admit()) co_await forward();
    }
  }
  account();
}

// README "Overload and attacks": a body of at most kBufferedBody bytes (Content-Length) is read
// whole before the request asks for a slot, so a client that sends it slowly holds its own
// connection only, never one of the model's slots (the body deadlines still cut it). Larger
// and chunked bodies are streamed to the model as they come.
constexpr std::uint64_t kBufferedBody = 64 * 1024;

asio::awaitable<bool> Exchange::read_small_body() {
  const auto& req = conn_.request();
  if (req.framing != http::BodyFraming::content_length || req.content_length == 0 ||
      req.content_length > kBufferedBody)
    co_return true;
  // no reserve(content_length): memory follows the bytes received, not what a head announces
  std::vector<std::string_view> pieces;
  for (;;) {
    auto ec = co_await conn_.read_body(pieces);
    if (ec) {
      co_await client_body_failed(ec);
      co_return false;
    }
    if (pieces.empty()) break;
    for (auto p : pieces) buffered_body_ += p;
  }
  body_buffered_ = true;
  co_return true;
}

asio::awaitable<http::error_code> Exchange::next_body(std::vector<std::string_view>& pieces) {
  if (!body_buffered_) co_return co_await conn_.read_body(pieces);
  pieces.clear();
  if (!buffered_body_given_) pieces.emplace_back(buffered_body_);
  buffered_body_given_ = true;
  co_return http::error_code{};
}

// Phase 1: the endpoint the request names: by its scoring path, its Open Inference Protocol
// model, or for gRPC the azureml-endpoint header / host name / the only endpoint (README
// "HTTP/2 and gRPC", "Routing").
std::optional<Exchange::Refusal> Exchange::resolve_route() {
  const auto& req = conn_.request();
  routing::RequestFacts facts{req.target, req.find(bhttp::field::host),
                              req.find("azureml-endpoint"), grpc_};
  auto resolved = plan_->routes.resolve(facts);
  if (auto* miss = std::get_if<routing::Unresolved>(&resolved))
    return Refusal{404, "EndpointNotFound", std::move(miss->message)};
  auto& route = std::get<routing::Resolved>(resolved);
  route_kind_ = route.kind;
  endpoint_ = route.endpoint;
  forward_target_ = std::move(route.forward_target);
  return std::nullopt;
}

// /v2/health/live and /v2/health/ready: the router answers from its own state. Ready when every
// endpoint has a deployment with a ready, not ejected target.
asio::awaitable<void> Exchange::answer_health() {
  bool ok = true;
  if (route_kind_ == routing::RouteKind::router_ready) {
    for (const auto& ep : plan_->endpoints) {
      bool any = false;
      for (const auto& d : ep.deployments)
        for (const auto& t : d.state->gate->view()) any = any || (t.ready && !t.ejected);
      ok = ok && any;
    }
  }
  status_ = ok ? 200 : 503;
  const char* body = route_kind_ == routing::RouteKind::router_live ? "{\"live\":true}"
                     : ok                                           ? "{\"ready\":true}"
                                                                    : "{\"ready\":false}";
  const http::ServerStream::Extra extra{{"x-request-id", request_id_}};
  co_await http::send_simple(conn_, status_, "application/json", body, extra);
}

// Phase 2: the endpoint's key.
std::optional<Exchange::Refusal> Exchange::authenticate() {
  auto result =
      routing::authenticate(*endpoint_, conn_.request().find(bhttp::field::authorization));
  if (result == routing::AuthResult::ok) return std::nullopt;
  return Refusal{401, "Unauthorized",
                 result == routing::AuthResult::missing
                     ? "this endpoint needs a key: send 'Authorization: Bearer <key>'"
                     : "the key is not valid for this endpoint"};
}

// Phase 3: header first, else the traffic split.
std::optional<Exchange::Refusal> Exchange::choose_deployment() {
  auto header = conn_.request().find("azureml-model-deployment");
  auto choice = routing::choose_deployment(*endpoint_, header, routing::fast_random() % 100);
  if (choice.deployment < 0) {
    if (choice.by_header)
      return Refusal{404, "DeploymentNotFound",
                     "endpoint '" + endpoint_->name + "' has no deployment named '" +
                         std::string(header.substr(0, 64)) + "'"};
    return Refusal{404, "NoTrafficDeployment",
                   "no deployment of endpoint '" + endpoint_->name +
                       "' receives traffic; set traffic percentages or send the "
                       "azureml-model-deployment header"};
  }
  deployment_index_ = choice.deployment;
  deployment_ =
      &plan_->endpoints[endpoint_->index].deployments[static_cast<std::size_t>(choice.deployment)];
  mirror_ = routing::choose_mirror(*endpoint_, choice.deployment, routing::fast_random() % 100);
  return std::nullopt;
}

bool Exchange::client_gone() const { return conn_.client_gone(); }

// Phase 4, when no slot was free at once: wait in the deployment's queue.
asio::awaitable<bool> Exchange::admit() {
  auto& gate = *deployment_->state->gate;
  auto result = co_await gate.admit(tried_, [this] { return client_gone(); });
  switch (result.status) {
    case upstream::AdmitStatus::granted:
      slot_ = std::move(result.slot);
      co_return true;
    case upstream::AdmitStatus::no_ready_target:
      co_await refuse(result.status,
                      "deployment '" + deployment_->state->name + "' has no ready instance");
      co_return false;
    case upstream::AdmitStatus::queue_full:
      co_await refuse(result.status,
                      "deployment '" + deployment_->state->name +
                          "' is at its concurrency limit and its wait queue is full");
      co_return false;
    case upstream::AdmitStatus::no_queue:
      co_await refuse(
          result.status,
          "every instance of deployment '" + deployment_->state->name +
              "' is at max_concurrent_requests_per_instance and max_queue_wait_ms is 0");
      co_return false;
    case upstream::AdmitStatus::queue_timeout:
      co_await refuse(result.status,
                      "no instance of deployment '" + deployment_->state->name +
                          "' became free within max_queue_wait_ms (" +
                          std::to_string(deployment_->request_settings.max_queue_wait_ms) + " ms)");
      co_return false;
    case upstream::AdmitStatus::cancelled:
      client_closed_request();
      co_return false;
  }
  co_return false;
}

// A request the gate did not admit: 503 without a ready instance, else 429 naming the limit.
asio::awaitable<void> Exchange::refuse(upstream::AdmitStatus why, std::string message) {
  using upstream::AdmitStatus;
  if (why == AdmitStatus::no_ready_target) {
    co_await reply(503, "NoReadyInstance", std::move(message), "no_ready_instance");
    co_return;
  }
  std::string_view limit = why == AdmitStatus::queue_full ? "max_queue_length"
                           : why == AdmitStatus::no_queue ? "max_concurrent_requests_per_instance"
                                                          : "max_queue_wait_ms";
  co_await reply(429, "TooManyRequests", std::move(message), limit);
}

asio::awaitable<void> Exchange::reply(unsigned status, std::string_view code, std::string message,
                                      std::string_view limit) {
  status_ = status;
  error_code_ = code;
  WorkerCounters::add(worker_.counters.router_errors[status / 100 % 6]);
  using Name = std::string_view;  // the status page's "last router errors", never the message
  worker_.counters.recent_errors.record(status, code, endpoint_ ? Name(endpoint_->name) : Name(),
                                        deployment_ ? Name(deployment_->state->name) : Name());
  if (conn_.response_started()) {
    conn_.abort();  // too late for a status: cutting the stream tells the client
    co_return;
  }
  if (grpc_) co_return co_await reply_grpc(status, code, message, limit);
  http::ServerStream::Extra extra;
  extra.emplace_back("x-request-id", request_id_);
  if (!client_request_id_.empty()) extra.emplace_back("x-ms-client-request-id", client_request_id_);
  if (deployment_) extra.emplace_back("azureml-model-deployment", deployment_->state->name);
  if (status == 401) extra.emplace_back("WWW-Authenticate", "Bearer");
  std::string retry_after;
  if ((status == 429 || status == 503) && deployment_) {
    // 503 means no instance is ready: nothing drains the queue, so no rate applies.
    retry_after = std::to_string(deployment_->state->gate->retry_after_seconds(status == 429));
    extra.emplace_back("Retry-After", retry_after);
  }
  co_await conn_.reply_error(status, code, message, extra, limit);
}

namespace {
// The router's refusals as gRPC status codes (README "HTTP/2 and gRPC").
int grpc_code_for(unsigned http_status) {
  switch (http_status) {
    case 400:
      return 13;  // INTERNAL (a malformed request, as gRPC maps HTTP 400)
    case 401:
      return 16;  // UNAUTHENTICATED
    case 404:
      return 5;  // NOT_FOUND
    case 413:
    case 429:
      return 8;  // RESOURCE_EXHAUSTED
    case 502:
    case 503:
      return 14;  // UNAVAILABLE
    case 504:
      return 4;  // DEADLINE_EXCEEDED
    default:
      return 2;  // UNKNOWN
  }
}

// grpc-message is percent-encoded: bytes outside printable ASCII, and '%' itself.
std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c >= 0x20 && c <= 0x7e && c != '%') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}
}  // namespace

// A refusal to a gRPC client: HTTP 200 with grpc-status and grpc-message in one HEADERS frame
// ("Trailers-Only"), which every gRPC client reads as the call's status.
asio::awaitable<void> Exchange::reply_grpc(unsigned status, std::string_view code,
                                           const std::string& message, std::string_view limit) {
  grpc_status_ = grpc_code_for(status);
  std::string text = std::string(code) + ": " + message;
  if (!limit.empty()) text += " (limit: " + std::string(limit) + ")";
  const std::string grpc_message = percent_encode(text);
  const std::string grpc_status = std::to_string(grpc_status_);
  http::ResponseStart start;
  start.status = 200;
  start.fields = {{"content-type", "application/grpc"},
                  {"grpc-status", grpc_status},
                  {"grpc-message", grpc_message},
                  {"x-request-id", request_id_}};
  if (deployment_) start.fields.push_back({"azureml-model-deployment", deployment_->state->name});
  if (co_await conn_.start_response(start)) co_return;
  co_await conn_.end_response();
}

constexpr std::string_view kProtocolNames[] = {"h1", "h2", "grpc"};

// Phase 6: log line and counters.
void Exchange::account() {
  auto elapsed = Clock::now() - start_;
  auto micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  if (deployment_) {
    auto& stats = deployment_->state->stats;
    stats.responses[status_ >= 100 && status_ < 600 && status_ != 499 ? status_ / 100 : 0]
        .fetch_add(1, std::memory_order_relaxed);
    stats.latency.observe(micros);
    if (status_ == 429) stats.status_429.fetch_add(1, std::memory_order_relaxed);
    if (status_ == 504) stats.status_504.fetch_add(1, std::memory_order_relaxed);
  }
  auto& in_flight = worker_.counters.in_flight[protocol_index_];
  in_flight.store(in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  WorkerCounters::add(worker_.counters.bytes_in, conn_.body_bytes());
  WorkerCounters::add(worker_.counters.bytes_out, bytes_out_);
  if (!plan_->access_log || !worker_.access_log) return;
  const auto& req = conn_.request();
  std::string line = "{\"request_id\":\"";
  http::append_json_escaped(line, request_id_);
  line += "\",\"method\":\"";
  http::append_json_escaped(line, req.method_text);
  line += "\",\"path\":\"";
  http::append_json_escaped(line, req.target.substr(0, req.target.find('?')));
  line += "\",\"endpoint\":\"";
  if (endpoint_) http::append_json_escaped(line, endpoint_->name);
  line += "\",\"deployment\":\"";
  if (deployment_) http::append_json_escaped(line, deployment_->state->name);
  line += "\",\"target\":\"";
  if (slot_) http::append_json_escaped(line, slot_.target()->address);
  line += "\",\"protocol\":\"";
  line += kProtocolNames[protocol_index_];
  line += "\",\"status\":" + std::to_string(status_);
  if (grpc_status_ >= 0) line += ",\"grpc_status\":" + std::to_string(grpc_status_);
  line += ",\"error\":\"";
  http::append_json_escaped(line, error_code_);
  line += "\",\"bytes_in\":" + std::to_string(conn_.body_bytes());
  line += ",\"bytes_out\":" + std::to_string(bytes_out_);
  line += ",\"duration_ms\":" + std::to_string(static_cast<double>(micros) / 1000.0);
  line += ",\"upstream_ms\":" +
          std::to_string(
              static_cast<double>(
                  std::chrono::duration_cast<std::chrono::microseconds>(upstream_time_).count()) /
              1000.0);
  if (!client_request_id_.empty()) {
    line += ",\"client_request_id\":\"";
    http::append_json_escaped(line, client_request_id_);
    line += '"';
  }
  line += '}';
  worker_.access_log->info(line);
}

}  // namespace scoregate::proxy
