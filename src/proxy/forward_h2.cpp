// Phase 5 for a deployment with `protocol: h2c | h2` (README "HTTP/2 and gRPC"): the request
// goes out as one stream on a shared HTTP/2 connection of the worker's upstream::H2Pool, the
// client's body is pumped into it while the answer is relayed back (gRPC bidirectional
// streams need both directions at once), trailers pass through. Either side may be HTTP/1.1
// or HTTP/2: the ServerStream and H2Stream interfaces carry fields, not bytes.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>

#include "http/awaitable.hpp"
#include "http/serialize.hpp"
#include "http/watchdog.hpp"
#include "proxy/connect.hpp"
#include "proxy/exchange.hpp"

#include <charconv>

namespace scoregate::proxy {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool is_router_owned_name(std::string_view n) {
  using boost::beast::iequals;
  return iequals(n, "x-request-id") || iequals(n, "x-ms-client-request-id") ||
         iequals(n, "azureml-model-deployment");
}

// Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); `te` is allowed only as
// "trailers" and is handled by the caller.
bool is_connection_specific(std::string_view n) {
  using boost::beast::iequals;
  return iequals(n, "connection") || iequals(n, "keep-alive") || iequals(n, "proxy-connection") ||
         iequals(n, "transfer-encoding") || iequals(n, "upgrade") || iequals(n, "te") ||
         iequals(n, "trailer") || iequals(n, "host");
}

}  // namespace

void Exchange::build_h2_head(upstream::H2RequestHead& h) const {
  const auto& req = conn_.request();
  h.method = std::string(req.method_text);
  h.scheme = deployment_->protocol == settings::UpstreamProtocol::h2 ? "https" : "http";
  h.authority = std::string(req.find(bhttp::field::host));
  if (h.authority.empty()) h.authority = slot_.target()->address;
  h.path = forward_target_;
  std::string_view forwarded_for;
  for (const auto& f : req.fields) {
    if (http::is_hop_by_hop(f, req) || is_connection_specific(f.name)) continue;
    if (f.id == bhttp::field::expect) continue;
    if (f.id == bhttp::field::authorization && endpoint_->auth == settings::AuthMode::key)
      continue;  // the key stays here
    if (boost::beast::iequals(f.name, "x-forwarded-for")) {
      forwarded_for = f.value;
      continue;
    }
    if (is_router_owned_name(f.name) || boost::beast::iequals(f.name, "x-forwarded-proto") ||
        boost::beast::iequals(f.name, "x-forwarded-host"))
      continue;
    h.headers.push_back({lower(f.name), std::string(f.value)});
  }
  // gRPC needs "te: trailers" end to end; it is the only TE value HTTP/2 allows.
  if (auto te = req.find(bhttp::field::te); boost::beast::iequals(te, "trailers") || grpc_)
    h.headers.push_back({"te", "trailers"});
  h.headers.push_back({"x-request-id", std::string(request_id_.view())});
  if (!client_request_id_.empty())
    h.headers.push_back({"x-ms-client-request-id", client_request_id_});
  std::string xff(forwarded_for);
  if (!xff.empty()) xff += ", ";
  xff += conn_.peer_address();
  h.headers.push_back({"x-forwarded-for", std::move(xff)});
  h.headers.push_back({"x-forwarded-proto", plan_->tls ? "https" : "http"});
  if (auto host = req.find(bhttp::field::host); !host.empty())
    h.headers.push_back({"x-forwarded-host", std::string(host)});
  h.end_stream = req.framing == http::BodyFraming::none ||
                 (req.framing == http::BodyFraming::content_length && req.content_length == 0);
}

// Opens the stream on the admitted target; a connect failure re-admits elsewhere like the
// HTTP/1.1 path (connect_upstream()).
asio::awaitable<bool> Exchange::open_h2(const upstream::H2RequestHead& head) {
  const auto mode = deployment_->protocol == settings::UpstreamProtocol::h2 ? upstream::H2Mode::h2
                                                                            : upstream::H2Mode::h2c;
  for (;;) {
    const auto target = slot_.target();
    auto r = co_await worker_.h2->open(target, mode, plan_->upstream_tls.get(), head,
                                       std::min(request_timeout(), kMaxConnectTime));
    if (r.new_connection || r.connect_failed) {
      WorkerCounters::add(worker_.counters.upstream_connects);
      if (r.connect_failed) WorkerCounters::add(worker_.counters.upstream_connect_failures);
      deployment_->state->gate->report_connect(target, !r.connect_failed);
    } else if (r.stream) {
      WorkerCounters::add(worker_.counters.upstream_reused);
    }
    if (r.stream) {
      h2_ = std::move(r.stream);
      co_return true;
    }
    std::string why = r.timed_out ? "timed out" : r.ec.message();
    if (!co_await retry_elsewhere(target, why)) co_return false;
  }
}

// The client's body into the model's stream, concurrently with the answer coming back.
asio::awaitable<void> Exchange::pump_h2_body() {
  std::vector<std::string_view> pieces;
  for (;;) {
    auto ec = co_await next_body(pieces);
    if (ec) {
      body_error_ = ec;
      if (h2_) h2_->cancel();  // the model must not take a truncated request as whole
      co_return;
    }
    if (pieces.empty()) {
      watch_client();
      if (!co_await h2_->write_body({}, true)) request_sent_ = true;
      co_return;
    }
    for (auto p : pieces)
      if (co_await h2_->write_body(p, false)) co_return;  // the stream failed: the relay says why
  }
}

asio::awaitable<void> Exchange::forward_h2() {
  upstream::H2RequestHead head;
  build_h2_head(head);
  if (!co_await open_h2(head)) co_return;
  upstream_start_ = Clock::now();
  http::Watchdog dog(ex_, [this] {
    if (h2_) h2_->cancel();  // null while relay_h2() opens a refused request's new stream
  });
  dog.arm(request_timeout());
  // The pump runs beside the relay; `pump_done` and the timer tell when it has ended (it
  // uses this Exchange, so forward_h2() does not return before).
  bool pump_done = head.end_stream;
  asio::steady_timer pump_end(ex_, Clock::time_point::max());
  if (head.end_stream) {
    request_sent_ = true;
    watch_client();
  } else {
    asio::co_spawn(ex_, pump_h2_body(), [&](const std::exception_ptr&) {
      pump_done = true;
      pump_end.cancel();
    });
  }
  co_await relay_h2(dog, head);
  dog.disarm();
  stop_watching();
  if (!pump_done) {
    h2_->cancel();  // ends a pending write to the model
    conn_.abort();  // ends a pending read of a client body nobody will take
    while (!pump_done) co_await pump_end.async_wait(nothrow);
  }
  if (body_error_ && status_ == 0) co_await client_body_failed(body_error_);
}

void Exchange::h2_response_start(const upstream::H2ResponseHead& rh,
                                 http::ResponseStart& out) const {
  out.status = rh.status;
  out.fields.reserve(rh.headers.size() + 3);
  for (const auto& h : rh.headers) {
    if (is_connection_specific(h.name) || is_router_owned_name(h.name)) continue;
    if (h.name == "content-length") {
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(h.value.data(), h.value.data() + h.value.size(), n);
      if (ec == std::errc() && p == h.value.data() + h.value.size()) out.content_length = n;
      continue;
    }
    out.fields.push_back({h.name, h.value});
  }
  out.fields.push_back({"azureml-model-deployment", deployment_->state->name});
  out.fields.push_back({"x-request-id", request_id_});
  if (!client_request_id_.empty())
    out.fields.push_back({"x-ms-client-request-id", client_request_id_});
  out.bodiless =
      conn_.request().method == bhttp::verb::head || rh.status == 204 || rh.status == 304;
  if (rh.end_stream && !out.bodiless && !out.content_length) out.content_length = 0;
}

namespace {
void note_grpc_status(const std::vector<upstream::H2Header>& fields, int& status) {
  for (const auto& f : fields)
    if (f.name == "grpc-status") {
      int v = -1;
      auto [p, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), v);
      if (ec == std::errc()) status = v;
    }
}
}  // namespace

// The model's stream failed: before its head (a router error reply) or after (the client's
// stream is cut; a gRPC client gets UNAVAILABLE in trailers instead).
asio::awaitable<void> Exchange::h2_failed(http::Watchdog& dog, bool started) {
  if (body_error_) co_return;  // the client's body broke first: forward_h2() answers that
  if (client_left()) {
    client_closed_request();
    co_return;
  }
  if (!started) {
    if (dog.expired()) {
      WorkerCounters::add(worker_.counters.upstream_timeouts);
      co_await reply(504, "UpstreamTimeout", timeout_message());
    } else {
      co_await reply(502, "UpstreamReset",
                     h2_->refused() ? "the model refused the stream before processing it"
                                    : "the model reset the stream or closed the connection "
                                      "before answering");
    }
    co_return;
  }
  const bool deadline_passed = grpc_timeout_ && Clock::now() >= start_ + *grpc_timeout_;
  error_code_ = !dog.expired()    ? "UpstreamReset"
                : deadline_passed ? "UpstreamTimeout"
                                  : "UpstreamBodyTimeout";
  if (grpc_ && conn_.protocol() == http::Protocol::h2) {
    // In trailers: the client reads a status, not a reset. DEADLINE_EXCEEDED when the model
    // went quiet (body_idle_timeout) or the client's grpc-timeout passed, else UNAVAILABLE.
    grpc_status_ = dog.expired() ? 4 : 14;
    const http::OutField trailers[] = {
        {"grpc-status", dog.expired() ? "4" : "14"},
        {"grpc-message", dog.expired() ? "UpstreamTimeout: the model's stream outlived "
                                         "grpc-timeout or went quiet for body_idle_timeout_ms"
                                       : "UpstreamReset: the model's stream broke before its end"}};
    co_await conn_.end_response(trailers);
    co_return;
  }
  conn_.abort();
}

// README "Retries": a stream the model provably did not process (H2Stream::refused():
// REFUSED_STREAM, above GOAWAY's last-stream-id, HEADERS never sent) is opened again, at most
// kRefusedRetries times, but only for a request without a body: a body the pump took from the
// client cannot be sent twice.
constexpr int kRefusedRetries = 2;

asio::awaitable<void> Exchange::relay_h2(http::Watchdog& dog, const upstream::H2RequestHead& head) {
  upstream::H2ResponseHead rh;
  for (int retries = 0; co_await h2_->read_head(rh); ++retries) {
    if (!h2_->refused() || !head.end_stream || retries >= kRefusedRetries || client_left() ||
        dog.expired()) {
      co_await h2_failed(dog, false);
      co_return;
    }
    h2_.reset();
    worker_.counters.retried(RetryReason::refused_stream);
    if (!co_await open_h2(head)) co_return;  // it answered the client
    // the timeout passed (504) or the client left (499) while it opened
    if (dog.expired() || client_left()) h2_->cancel();
  }
  upstream_time_ = Clock::now() - upstream_start_;
  status_ = rh.status;
  note_grpc_status(rh.headers, grpc_status_);
  http::ResponseStart start;
  h2_response_start(rh, start);
  if (co_await conn_.start_response(start)) co_return client_stopped_reading();
  if (rh.end_stream) {
    if (co_await conn_.end_response()) client_stopped_reading();
    co_return;
  }
  arm_body_timer(dog);
  std::string out;
  bool head_sent = false;  // a head without body bytes yet goes out at once (streams)
  for (;;) {
    out.clear();
    bool end = false;
    if (co_await h2_->read_body(out, end)) co_return co_await h2_failed(dog, true);
    arm_body_timer(dog);
    bytes_out_ += out.size();
    if (end) stop_watching();
    if (!out.empty() || !head_sent || end) {
      head_sent = true;
      if (co_await conn_.write_body(out, end && h2_->trailers().empty()))
        co_return client_stopped_reading();
    }
    if (!end) continue;
    if (const auto& t = h2_->trailers(); !t.empty()) {
      note_grpc_status(t, grpc_status_);
      http::OutFields trailers;
      trailers.reserve(t.size());
      for (const auto& h : t) trailers.push_back({h.name, h.value});
      if (co_await conn_.end_response(trailers)) client_stopped_reading();
    }
    co_return;
  }
}

// While the answer streams: body_idle_timeout between pieces, and a gRPC client's grpc-timeout
// bounds the whole call (its deadline), as the client expects of every hop.
void Exchange::arm_body_timer(http::Watchdog& dog) const {
  auto idle = std::chrono::duration_cast<Clock::duration>(conn_.limits().body_idle_timeout);
  if (grpc_timeout_) idle = std::min(idle, start_ + *grpc_timeout_ - Clock::now());
  dog.arm(std::max(idle, Clock::duration::zero()));
}

void Exchange::client_stopped_reading() {
  error_code_ = "ClientClosedResponse";
  conn_.close_after_response();
  if (h2_) h2_->cancel();
}

}  // namespace scoregate::proxy
