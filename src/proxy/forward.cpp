// Phase 5: forward the request to the admitted target and stream the answer back.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "http/awaitable.hpp"
#include "http/client_transport.hpp"
#include "http/errors.hpp"
#include "http/serialize.hpp"
#include "proxy/connect.hpp"
#include "proxy/exchange.hpp"
#include "proxy/mirror.hpp"

#include <array>
#include <span>
#include <tuple>

namespace scoregate::proxy {

namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr std::uint32_t kMaxResponseHead = 64 * 1024;
constexpr int kResetWaitSteps = 20;  // × 1 ms: see Exchange::resendable()

asio::awaitable<void> Exchange::forward() {
  if (deployment_->protocol != settings::UpstreamProtocol::http1) co_return co_await forward_h2();
  if (!co_await connect_upstream()) co_return;
  if (!co_await send_request()) co_return;
  if (mirror_ >= 0) start_mirror();
  std::optional<http::ResponseParser> rp;
  auto head = co_await read_response_head(rp, true);
  if (head == HeadRead::resend) {
    // README "Retries": the model reset a pooled connection with this request unread
    upstream_.reset();
    worker_.counters.retried(RetryReason::reset_unread);
    if (!co_await connect_upstream(true) || left_while_connecting() || !co_await send_request())
      co_return;
    head = co_await read_response_head(rp, false);
  }
  if (head != HeadRead::ok) co_return;
  co_await relay_response(*rp);
  stop_watching();  // before the connection changes hands
  upstream_->watchdog.disarm();
  if (upstream_reusable_) worker_.pool.give_back(std::move(upstream_));
}

// A connect failure means the request never reached a model, so another target may be
// tried; nothing after the first byte written is ever retried.
asio::awaitable<bool> Exchange::connect_upstream(bool fresh) {
  for (;;) {
    const auto target = slot_.target();
    auto c = co_await connect_to(worker_, *deployment_->state->gate, target, request_timeout(),
                                 !fresh, upstream::StaleCheck::before_first_write);
    if (c.connection) {
      upstream_ = std::move(c.connection);
      upstream_pooled_ = c.pooled;
      upstream_untouched_ = true;
      co_return true;
    }
    // named, not a temporary in the co_await: GCC 12 destroys a ?: temporary there twice
    const std::string why = c.timed_out ? "timed out" : c.ec.message();
    if (!co_await retry_elsewhere(target, why)) co_return false;
  }
}

// The client watch (client_watch.cpp) had no model connection to close while a retry
// connected: the request ends here instead.
bool Exchange::left_while_connecting() {
  if (!client_left()) return false;
  client_closed_request();
  return true;
}

asio::awaitable<bool> Exchange::retry_elsewhere(const upstream::TargetPtr& target,
                                                const std::string& why) {
  tried_.push_back(target->id);
  slot_.release();
  auto again = co_await deployment_->state->gate->admit(tried_, [this] { return client_gone(); });
  if (again.status == upstream::AdmitStatus::granted) {
    slot_ = std::move(again.slot);
    worker_.counters.retried(RetryReason::connect_failed);
    co_return true;
  }
  if (again.status == upstream::AdmitStatus::cancelled) {
    client_closed_request();
  } else if (again.status == upstream::AdmitStatus::no_ready_target) {
    co_await reply(502, "UpstreamConnectFailed",
                   "could not connect to any instance of deployment '" + deployment_->state->name +
                       "' (last " + target->address + ": " + why + ")");
  } else {
    co_await refuse(again.status, "an instance of deployment '" + deployment_->state->name +
                                      "' refused the connection and no other became free in time");
  }
  co_return false;
}

std::chrono::milliseconds Exchange::request_timeout() const {
  milliseconds configured(deployment_->request_settings.request_timeout_ms);
  return grpc_timeout_ ? std::min(configured, *grpc_timeout_) : configured;
}

std::string Exchange::timeout_message() const {
  return "the model did not answer within " +
         std::string(grpc_timeout_ &&
                             *grpc_timeout_ <
                                 milliseconds(deployment_->request_settings.request_timeout_ms)
                         ? "the client's grpc-timeout"
                         : "request_timeout_ms") +
         " (" + std::to_string(request_timeout().count()) + " ms)";
}

asio::awaitable<void> Exchange::client_body_failed(http::error_code ec) {
  unsigned status = http::status_for_parse_error(ec);
  if (status == 413) {
    co_await reply(413, "RequestBodyTooLarge", "request body is larger than router.max_body_bytes");
  } else if (ec == bhttp::error::partial_message || ec == asio::error::operation_aborted) {
    status_ = 499;  // the client went away (or stalled) mid-upload
    error_code_ = conn_.timed_out() ? "ClientBodyTimeout" : "ClientClosedRequest";
    conn_.close_after_response();
  } else {
    co_await reply(400, "BadRequest", "malformed request body: " + ec.message());
  }
}

void Exchange::build_upstream_head(std::string& out,
                                   std::optional<std::uint64_t> body_length) const {
  const auto& req = conn_.request();
  http::HeadWriter w(out);
  w.request_line(req.method_text, forward_target_);
  std::string_view forwarded_for;
  for (const auto& f : req.fields) {
    if (http::is_hop_by_hop(f, req)) continue;
    switch (f.id) {
      case bhttp::field::content_length:
      case bhttp::field::expect:
        continue;
      case bhttp::field::authorization:
        if (endpoint_->auth == settings::AuthMode::key) continue;  // the key stays here
        break;
      default:
        break;
    }
    if (boost::beast::iequals(f.name, "x-forwarded-for")) {
      forwarded_for = f.value;
      continue;
    }
    if (boost::beast::iequals(f.name, "x-request-id") ||
        boost::beast::iequals(f.name, "x-ms-client-request-id") ||
        boost::beast::iequals(f.name, "x-forwarded-proto") ||
        boost::beast::iequals(f.name, "x-forwarded-host"))
      continue;
    w.field(f.name, f.value);
  }
  w.field("x-request-id", request_id_);
  if (!client_request_id_.empty()) w.field("x-ms-client-request-id", client_request_id_);
  if (forwarded_for.empty()) {
    w.field("X-Forwarded-For", conn_.peer_address());
  } else {
    std::string xff(forwarded_for);
    xff += ", ";
    xff += conn_.peer_address();
    w.field("X-Forwarded-For", xff);
  }
  w.field("X-Forwarded-Proto", plan_->tls ? "https" : "http");
  if (auto host = req.find(bhttp::field::host); !host.empty()) w.field("X-Forwarded-Host", host);
  if (body_length)
    w.content_length(*body_length);
  else if (req.framing == http::BodyFraming::chunked)
    w.field("Transfer-Encoding", "chunked");
  else if (req.framing == http::BodyFraming::content_length)
    w.content_length(req.content_length);
  else if (req.method == bhttp::verb::post || req.method == bhttp::verb::put)
    w.content_length(0);
  w.end();
}

asio::awaitable<bool> Exchange::write_upstream(std::string_view a,
                                               const std::vector<std::string_view>& pieces,
                                               std::string_view b) {
  // A fixed array covers the usual case (head + one body piece) without allocating.
  constexpr std::size_t kInline = 8;
  std::array<asio::const_buffer, kInline> inline_buffers;
  std::vector<asio::const_buffer> many;
  std::size_t n = 0;
  auto add = [&](std::string_view v) {
    if (v.empty()) return;
    if (n < kInline)
      inline_buffers[n] = asio::const_buffer(v.data(), v.size());
    else
      many.emplace_back(v.data(), v.size());
    ++n;
  };
  const bool spill = pieces.size() + 2 > kInline;
  if (spill) many.reserve(pieces.size() + 2);
  add(a);
  for (auto p : pieces) add(p);
  add(b);
  if (spill)
    many.insert(many.begin(), inline_buffers.begin(),
                inline_buffers.begin() + std::min(n, kInline));
  upstream_->watchdog.arm(conn_.limits().body_idle_timeout);
  auto span = spill ? std::span<const asio::const_buffer>(many)
                    : std::span<const asio::const_buffer>(inline_buffers.data(), n);
  if (upstream_untouched_) co_return co_await first_write(span);
  co_return !co_await http::write_fully(upstream_->socket, span);
}

// README "Retries": a pooled connection the model closed while it sat idle is replaced by a
// fresh one as long as no byte of the request was accepted by the kernel — found by the check
// here, right before the first write (one system call per request: the pool hands connections
// out unchecked, upstream::StaleCheck), or by the first direct write failing with
// EPIPE/ECONNRESET: the model provably never read the request. Once a byte was accepted,
// nothing is retried (the model may have read it, and a POST need not be idempotent).
asio::awaitable<bool> Exchange::first_write(std::span<const asio::const_buffer> buffers) {
  std::size_t done = 0;
  for (;;) {
    upstream_untouched_ = false;
    auto& socket = upstream_->socket;
    if (!upstream_pooled_ || !upstream::peer_closed_or_dirty(socket.native_handle())) {
      boost::system::error_code ec;
      done = socket.write_some(buffers, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
      if (!ec) break;
      if (!upstream_pooled_ ||
          (ec != asio::error::broken_pipe && ec != asio::error::connection_reset))
        co_return false;
    }
    upstream_.reset();
    worker_.counters.retried(RetryReason::pooled_closed);
    if (!co_await connect_upstream() || left_while_connecting()) co_return false;  // answered
    upstream_->watchdog.arm(conn_.limits().body_idle_timeout);
  }
  auto rest = http::remaining_buffers(buffers, done);
  if (rest.empty()) co_return true;
  co_return !co_await http::write_fully(upstream_->socket, rest);
}

// A write to the model failed: because the client left (client_watch.cpp closed the model's
// connection), or because the model's connection broke.
asio::awaitable<void> Exchange::write_failed(std::string message) {
  if (status_ != 0) co_return;  // first_write()'s fresh connection failed: answered already
  if (client_left())
    client_closed_request();
  else
    co_await reply(502, "UpstreamWriteFailed", std::move(message));
}

asio::awaitable<bool> Exchange::send_request() {
  const auto& req = conn_.request();
  std::string out;
  out.reserve(req.raw.size() + 256);
  build_upstream_head(out);
  if (req.framing == http::BodyFraming::none) {
    watch_client();
    if (!co_await write_upstream(out, {}, {})) {
      co_await write_failed("the model's connection failed while sending the request");
      co_return false;
    }
    request_sent_ = true;
    co_return true;
  }
  const bool chunked = req.framing == http::BodyFraming::chunked;
  std::vector<std::string_view> pieces;
  for (;;) {
    auto ec = co_await next_body(pieces);
    if (ec) {
      co_await client_body_failed(ec);
      co_return false;
    }
    const bool last = pieces.empty();
    if (last) watch_client();  // the client has nothing more to send: a readable socket is EOF
    std::size_t size = 0;
    for (auto p : pieces) size += p.size();
    if (chunked && !last) http::append_chunk_header(out, size);
    std::string_view suffix = !chunked ? "" : last ? http::kLastChunk : http::kChunkEnd;
    if (mirror_ >= 0) {
      if (mirror_body_.size() + size > plan_->mirror_max_body) {
        mirror_ = -1;  // too big to copy: this request is not mirrored
        mirror_body_.clear();
        deployment_->state->stats.mirror_failed.fetch_add(1, std::memory_order_relaxed);
      } else {
        for (auto p : pieces) mirror_body_ += p;
      }
    }
    if (!co_await write_upstream(out, pieces, suffix)) {
      co_await write_failed("the model's connection failed while the request body was sent");
      co_return false;
    }
    out.clear();
    if (last) break;
  }
  request_sent_ = true;
  co_return true;
}

// README "Retries": a request without a body and with an idempotent method, on a pooled
// connection the model reset before any byte of its answer, may be sent again on a fresh
// connection. A socket closed with unread bytes sends RST, one whose reader took every byte
// sends FIN: the reset means the model's application never had the whole request head, so it
// cannot have acted on it. Nothing of the client was consumed, so the request is rebuilt whole.
asio::awaitable<bool> Exchange::resendable(boost::system::error_code ec, bool answer_started) {
  const auto& req = conn_.request();
  const bool idempotent = req.method == bhttp::verb::get || req.method == bhttp::verb::head ||
                          req.method == bhttp::verb::options;
  if (!upstream_pooled_ || answer_started || !idempotent ||
      req.framing != http::BodyFraming::none || client_left() || upstream_->watchdog.expired())
    co_return false;
  const int fd = upstream_->socket.native_handle();
  if (upstream::peer_reset(fd, ec)) co_return true;
  if (ec != asio::error::eof) co_return false;
  // Only the model's FIN so far. If the request reached a socket the model had already
  // closed, the model's kernel answers it with RST: on loopback within microseconds, across a
  // network within a round trip. Wait that long for it; a model that read the request and
  // closed sends none.
  asio::steady_timer timer(ex_);
  for (int step = 0; step < kResetWaitSteps; ++step) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(nothrow);
    if (client_left() || !upstream_->socket.is_open()) co_return false;
    if (upstream::peer_reset(fd, ec)) co_return true;
  }
  co_return false;
}

asio::awaitable<Exchange::HeadRead> Exchange::read_response_head(
    std::optional<http::ResponseParser>& rp, bool may_resend) {
  auto& up = *upstream_;
  bool answer_started = false;
  upstream_start_ = Clock::now();
  up.watchdog.arm(request_timeout());
  rp.emplace(kMaxResponseHead, std::numeric_limits<std::uint64_t>::max());
  if (conn_.request().method == bhttp::verb::head) rp->expect_no_body();
  for (;;) {
    if (!up.in.empty()) {
      boost::system::error_code ec;
      std::size_t used = rp->put(up.in.data(), ec);
      if (!ec) {
        up.in.consume(used);
        unsigned status = rp->head().status;
        if (status >= 200 || status == 101) break;
        rp.emplace(kMaxResponseHead, std::numeric_limits<std::uint64_t>::max());  // skip 1xx
        if (conn_.request().method == bhttp::verb::head) rp->expect_no_body();
        continue;
      }
      if (ec != bhttp::error::need_more) {
        co_await reply(502, "UpstreamMalformedResponse",
                       "the model answered with malformed HTTP (" + ec.message() + ")");
        co_return HeadRead::failed;
      }
    }
    auto space = up.in.prepare();
    auto [ec, n] =
        co_await up.socket.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
    if (ec) {
      if (may_resend && co_await resendable(ec, answer_started)) co_return HeadRead::resend;
      if (client_left()) {
        client_closed_request();  // the client went away while the model was working
        co_return HeadRead::failed;
      }
      if (up.watchdog.expired()) {
        WorkerCounters::add(worker_.counters.upstream_timeouts);
        co_await reply(504, "UpstreamTimeout", timeout_message());
      } else {
        // On a new connection it counts toward passive ejection like a refused connect; on a
        // pooled one it is most often a model closing an idle keep-alive connection as the
        // request arrived, which says nothing about new connections.
        if (!upstream_pooled_) deployment_->state->gate->report_connect(slot_.target(), false);
        co_await reply(502, "UpstreamReset",
                       "the model closed or reset the connection before answering");
      }
      co_return HeadRead::failed;
    }
    up.in.commit(n);
    answer_started = true;
  }
  if (rp->head().status == 101) {
    co_await reply(502, "UpstreamMalformedResponse", "the model tried to switch protocols");
    co_return HeadRead::failed;
  }
  upstream_time_ = Clock::now() - upstream_start_;
  co_return HeadRead::ok;
}

}  // namespace scoregate::proxy
