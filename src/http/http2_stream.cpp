#include "http/http2_stream.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

#include <nghttp2/nghttp2.h>

#include "http/awaitable.hpp"
#include "http/http2_session.hpp"
#include "http/serialize.hpp"

namespace scoregate::http {

namespace asio = boost::asio;

H2ServerStream::H2ServerStream(Http2Session& session, H2Stream& state)
    : session_(session),
      state_(state),
      event_(session.transport_.socket().get_executor()),
      body_rate_(session.limits_.min_body_rate_bytes_per_s, session.limits_.min_body_rate_grace) {}

asio::awaitable<bool> H2ServerStream::wait_until(clock::time_point deadline) {
  if (clock::now() >= deadline) co_return true;
  event_.expires_at(deadline);
  auto [ec] = co_await event_.async_wait(nothrow);
  // A wake that raced with the expiry still counts as a wake: the caller re-checks its state.
  co_return !ec && clock::now() >= deadline;
}

// The stream was reset by the client, or the connection is over.
error_code H2ServerStream::gone_error() const { return asio::error::connection_reset; }

bool H2ServerStream::client_gone() const { return session_.core_.gone(state_); }
const ServerLimits& H2ServerStream::limits() const { return session_.limits_; }
const std::string& H2ServerStream::peer_address() const { return session_.peer_; }

asio::awaitable<error_code> H2ServerStream::read_body(std::vector<std::string_view>& pieces) {
  timed_out_ = false;
  pieces.clear();
  const auto& h = state_.head;
  if (h.framing == BodyFraming::content_length && h.content_length > limits().max_body_bytes)
    co_return bhttp::error::body_limit;
  const auto idle_deadline = clock::now() + limits().body_idle_timeout;
  for (;;) {
    if (state_.over_limit) co_return bhttp::error::body_limit;
    session_.core_.take_body(state_, pieces);
    for (auto p : pieces) body_rate_.add_bytes(p.size());
    if (!pieces.empty()) co_return error_code{};
    if (state_.in_ended) co_return error_code{};
    if (client_gone()) co_return bhttp::error::partial_message;
    // body_idle_timeout, or the end of what the minimum body rate allows, whichever is first.
    const auto now = clock::now();
    auto deadline = idle_deadline;
    if (auto allowed = body_rate_.allowance(); allowed < idle_deadline - now)
      deadline = now + allowed;
    const bool passed = co_await wait_until(deadline);
    body_rate_.add_wait(clock::now() - now);
    if (passed && state_.in.empty() && !state_.in_ended) {
      timed_out_ = true;
      co_return asio::error::operation_aborted;
    }
  }
}

// Before an error reply: a request body that is about to end is read and dropped (at most
// 64 KiB more, for at most a second), so the reply ends the stream cleanly instead of being
// followed by RST_STREAM(NO_ERROR), which some clients (curl 7.88) report as a failed transfer.
// A larger or stalled body still gets the reset after the reply (RFC 9113 §8.1).
asio::awaitable<void> H2ServerStream::discard_body() {
  constexpr std::uint64_t kMaxDiscard = 64 * 1024;
  const auto deadline = clock::now() + std::chrono::seconds(1);
  const std::uint64_t start = state_.received;
  std::vector<std::string_view> pieces;
  while (!state_.in_ended && !client_gone() && state_.received - start <= kMaxDiscard) {
    session_.core_.take_body(state_, pieces);
    if (!pieces.empty()) continue;
    if (co_await wait_until(deadline)) break;
  }
  session_.core_.take_body(state_, pieces);  // credit back what was taken
}

asio::awaitable<error_code> H2ServerStream::start_response(const ResponseStart& start) {
  if (response_started_) co_return asio::error::already_started;
  response_started_ = true;
  session_.core_.set_response(state_, start);  // copied: the caller's views may not live on
  co_return error_code{};
}

asio::awaitable<error_code> H2ServerStream::write_body(std::string_view bytes, bool end_stream) {
  timed_out_ = false;
  if (!response_started_ || ended_) co_return asio::error::invalid_argument;
  if (client_gone()) co_return gone_error();
  Http2Core& core = session_.core_;
  ended_ = end_stream;
  if (state_.bodiless) {  // HEAD, 204, 304: the bytes are not sent
    if (end_stream) core.submit_head(state_, false);
    session_.wake_writer();
    co_return error_code{};
  }
  if (!state_.head_submitted && !core.submit_head(state_, true)) co_return gone_error();
  if (!core.queue_data(state_, bytes, end_stream)) co_return gone_error();
  session_.wake_writer();
  // Bounded memory when the client does not open its window: wait for it to take the bytes,
  // for at most body_idle_timeout without progress.
  auto deadline = clock::now() + limits().body_idle_timeout;
  std::size_t last = state_.queued();
  while (state_.queued() > kH2OutputHighWater) {
    if (client_gone()) co_return gone_error();
    if (co_await wait_until(deadline) && state_.queued() >= last) {
      timed_out_ = true;
      abort();
      co_return asio::error::operation_aborted;
    }
    if (state_.queued() < last) deadline = clock::now() + limits().body_idle_timeout;
    last = state_.queued();
  }
  co_return error_code{};
}

asio::awaitable<error_code> H2ServerStream::end_response(std::span<const OutField> trailers) {
  if (!response_started_) co_return asio::error::invalid_argument;
  if (ended_) co_return error_code{};
  if (client_gone()) co_return gone_error();
  ended_ = true;
  Http2Core& core = session_.core_;
  bool ok = true;
  if (!state_.head_submitted)
    ok = trailers.empty() || state_.bodiless ? core.submit_head(state_, false)
                                             : core.submit_head_with_trailers(state_, trailers);
  else
    ok = core.finish_data(state_, trailers);
  session_.wake_writer();
  co_return ok ? error_code{} : gone_error();
}

asio::awaitable<void> H2ServerStream::reply_error(unsigned status, std::string_view code,
                                                  std::string_view message, const Extra& extra,
                                                  std::string_view limit) {
  if (response_started_) {  // too late for an error reply: the client must see a broken one
    abort();
    co_return;
  }
  co_await discard_body();
  std::string body = json_error_body(code, message, limit);
  ResponseStart start;
  start.status = status;
  start.fields.push_back({"content-type", "application/json"});
  for (const auto& [name, value] : extra) start.fields.push_back({name, value});
  start.content_length = body.size();
  co_await start_response(start);
  co_await write_body(body, true);
}

void H2ServerStream::abort() {
  ended_ = true;
  session_.core_.reset(state_, NGHTTP2_INTERNAL_ERROR);
  session_.wake_writer();
}

}  // namespace scoregate::http
