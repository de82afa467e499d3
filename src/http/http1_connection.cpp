#include "http/http1_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <new>

#include <boost/asio/this_coro.hpp>
#include <boost/beast/http/error.hpp>

#include "http/errors.hpp"
#include "http/http2_session.hpp"
#include "http/serialize.hpp"

namespace scoregate::http {

namespace asio = boost::asio;
namespace be = boost::beast::http;
using std::chrono::milliseconds;

namespace {

// Storage for the parsers of requests in progress, kept per thread: a busy worker reuses a few
// blocks instead of a malloc and free per request, and an idle connection keeps no parser.
struct ParserBlocks {
  static constexpr std::size_t kKeep = 64;
  std::vector<void*> free;
  ~ParserBlocks() {
    for (void* b : free) ::operator delete(b);
  }
};
thread_local ParserBlocks parser_blocks;
#if defined(SCOREGATE_NO_RECYCLING)
constexpr bool kRecycleParsers = false;  // sanitizer builds: see CMakeLists.txt
#else
constexpr bool kRecycleParsers = true;
#endif

RequestParser* new_parser(const ServerLimits& limits) {
  void* block;
  if (!kRecycleParsers || parser_blocks.free.empty()) {
    block = ::operator new(sizeof(RequestParser));
  } else {
    block = parser_blocks.free.back();
    parser_blocks.free.pop_back();
  }
  return new (block) RequestParser(limits.max_header_bytes, limits.max_body_bytes);
}

}  // namespace

void Http1Connection::ParserRecycler::operator()(RequestParser* p) const {
  p->~RequestParser();
  if (kRecycleParsers && parser_blocks.free.size() < ParserBlocks::kKeep)
    parser_blocks.free.push_back(p);
  else
    ::operator delete(p);
}

Http1Connection::Http1Connection(ClientTransport& transport, const ServerLimits& limits,
                                 StreamHandler& handler, std::string peer_address)
    : transport_(transport),
      limits_(limits),
      handler_(handler),
      watchdog_(transport.socket().get_executor(), [this] { transport_.cancel(); }),
      peer_(std::move(peer_address)) {}

void Http1Connection::begin_drain() {
  draining_ = true;
  if (idle_) transport_.cancel();
}

void Http1Connection::close_if_idle() {
  if (!idle()) return;
  draining_ = true;  // read_head() sees it when its wait ends, and closes
  transport_.cancel();
}

asio::awaitable<Http1Connection::Outcome> Http1Connection::run() {
  if (peer_.empty()) {  // the worker passes accept()'s address: no getpeername() then
    error_code peer_ec;
    auto remote = transport_.socket().remote_endpoint(peer_ec);
    if (!peer_ec) peer_ = remote.address().to_string();
  }
  watchdog_.arm(limits_.handshake_timeout);  // then read_head() arms header_timeout
  if (auto ec = co_await transport_.handshake()) {
    transport_.close();
    co_return Outcome::closed;
  }
  if (transport_.alpn() == "h2") {
    watchdog_.disarm();
    co_return Outcome::switch_to_h2;
  }
  for (;;) {
    if (draining_) break;
    if (in_.empty()) {
      // The wait for a request's first byte is here, not in read_head(): an idle connection
      // parks only this frame and the transport's wait, not read_head()'s as well (README
      // "Benchmarks", idle connections).
      parser_.reset();  // made when bytes arrive: an idle connection holds no parser
      watchdog_.arm(requests_ == 0 ? limits_.header_timeout : limits_.keepalive_timeout);
      if (co_await transport_.wait_readable() || draining_) {
        co_await finish(false);
        co_return Outcome::closed;
      }
    }
    if (!co_await read_head()) {
      if (!switch_h2_) co_return Outcome::closed;
      watchdog_.disarm();
      co_return Outcome::switch_to_h2;
    }
    idle_ = false;
    ++requests_;
    keep_alive_ = parser_->head().keep_alive;
    response_started_ = continue_sent_ = chunked_out_ = false;
    body_rate_.reset();
    co_await handler_.handle(*this);
    watchdog_.disarm();
    if (!parser_->done())
      keep_alive_ = false;  // unread body: the stream is not at a request boundary
    in_.consume(pending_consume_);
    pending_consume_ = 0;
    if (!keep_alive_ || draining_) break;
    idle_ = true;
    parser_.reset();
    in_.release_if_empty();
    if (out_.capacity() > 4096) std::string().swap(out_);  // idle connections stay small
  }
  co_await finish(true);
  co_return Outcome::closed;
}

// The HTTP/2 client preface (RFC 9113 §3.4) on a plain connection's first request: true when
// it is there whole; need_more while the bytes so far are a prefix of it.
bool Http1Connection::h2_preface_seen(bool& need_more) const {
  constexpr std::size_t kPrefaceSize = 24;  // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
  need_more = false;
  if (!limits_.http2 || requests_ != 0 || transport_.secure()) return false;
  auto have = in_.data().substr(0, kPrefaceSize);
  if (!is_h2_preface_prefix(have)) return false;
  need_more = have.size() < kPrefaceSize;
  return !need_more;
}

// Reads until a complete request head is parsed, once bytes are there or readable (run()
// waits for the first byte). False when the connection is over (closed by the peer, timed
// out, or a malformed request was answered).
asio::awaitable<bool> Http1Connection::read_head() {
  parser_.reset();
  watchdog_.arm(limits_.header_timeout);
  for (;;) {
    bool need_more = false;
    if (!in_.empty() && h2_preface_seen(need_more)) {
      switch_h2_ = true;
      co_return false;
    }
    if (!in_.empty() && !need_more) {
      if (!parser_) parser_.reset(new_parser(limits_));
      error_code ec;
      std::size_t used = parser_->put(in_.data(), ec);
      if (!ec) {
        in_.consume(used);
        co_return true;
      }
      if (ec != be::error::need_more) {
        co_await reject_malformed(ec);
        co_return false;
      }
    }
    auto space = in_.prepare();
    auto r = co_await transport_.read_some(space.data(), space.size());
    if (r.ec) {
      co_await finish(false);
      co_return false;
    }
    in_.commit(r.bytes);
  }
}

asio::awaitable<void> Http1Connection::reject_malformed(const error_code& ec) {
  unsigned status = status_for_parse_error(ec);
  std::string_view code = status == 431   ? "RequestHeaderTooLarge"
                          : status == 413 ? "RequestBodyTooLarge"
                                          : "BadRequest";
  auto bytes = error_response(status, code, ec.message(), {}, true);
  watchdog_.arm(limits_.header_timeout);
  co_await transport_.write_all(bytes);
  keep_alive_ = false;
  co_await finish(true);
}

asio::awaitable<void> Http1Connection::finish(bool graceful) {
  if (graceful && !watchdog_.expired()) {
    watchdog_.arm(std::chrono::seconds(2));
    co_await transport_.lingering_close(256 * 1024);
  } else {
    transport_.close();
  }
  watchdog_.disarm();
  in_.consume(in_.size());
  in_.release_if_empty();
}

asio::awaitable<error_code> Http1Connection::read_body(std::vector<std::string_view>& pieces) {
  pieces.clear();
  in_.consume(pending_consume_);
  pending_consume_ = 0;
  parser_->body_pieces().clear();
  for (;;) {
    if (parser_->done()) co_return error_code{};
    if (!in_.empty()) {
      error_code ec;
      std::size_t used = parser_->put(in_.data(), ec);
      if (ec && ec != be::error::need_more) co_return ec;
      if (!parser_->body_pieces().empty()) {
        pieces = parser_->body_pieces();
        pending_consume_ = used;
        co_return error_code{};
      }
      in_.consume(used);
      if (parser_->done()) co_return error_code{};
      if (!ec && used > 0) continue;
    }
    if (!continue_sent_ && parser_->head().expect_continue) {
      if (auto ec = co_await send_continue()) co_return ec;
    }
    // Whichever comes first: body_idle_timeout, or the end of what the minimum body rate allows
    // (the watchdog then cancels the read: operation_aborted, timed_out()).
    if (!body_rate_)
      body_rate_.emplace(limits_.min_body_rate_bytes_per_s, limits_.min_body_rate_grace);
    watchdog_.arm(std::min<BodyRate::duration>(limits_.body_idle_timeout, body_rate_->allowance()));
    const auto wait_start = Watchdog::clock::now();
    auto space = in_.prepare();
    auto r = co_await transport_.read_some(space.data(), space.size());
    body_rate_->add_wait(Watchdog::clock::now() - wait_start);
    if (r.ec) co_return r.ec == asio::error::eof ? error_code(be::error::partial_message) : r.ec;
    body_rate_->add_bytes(r.bytes);
    in_.commit(r.bytes);
  }
}

asio::awaitable<bool> Http1Connection::discard_body(std::uint64_t limit) {
  if (parser_->done()) co_return true;
  const auto& head = parser_->head();
  if (head.expect_continue && !continue_sent_) co_return false;  // the client waits for a verdict
  if (head.framing == BodyFraming::content_length &&
      head.content_length - parser_->body_bytes() > limit)
    co_return false;
  std::vector<std::string_view> pieces;
  std::uint64_t seen = 0;
  for (;;) {
    if (co_await read_body(pieces)) co_return false;
    if (pieces.empty()) co_return parser_->done();
    for (auto p : pieces) seen += p.size();
    if (seen > limit) co_return false;
  }
}

asio::awaitable<error_code> Http1Connection::start_response(const ResponseStart& start) {
  response_started_ = true;
  out_.clear();
  HeadWriter w(out_);
  w.status_line(start.status, start.reason);
  for (const auto& f : start.fields) w.field(f.name, f.value);
  chunked_out_ = false;
  if (start.bodiless) {
    if (start.content_length && start.status != 204) w.content_length(*start.content_length);
  } else if (start.content_length) {
    w.content_length(*start.content_length);
  } else if (request().version == 11) {
    chunked_out_ = true;
    w.field("Transfer-Encoding", "chunked");
  } else {
    keep_alive_ = false;  // an HTTP/1.0 client: the body ends when the connection does
  }
  if (!keep_alive_) w.field("Connection", "close");
  w.end();
  co_return error_code{};  // sent with the first body bytes (or by end_response)
}

asio::awaitable<error_code> Http1Connection::flush(bool last) {
  if (out_.empty()) co_return error_code{};
  watchdog_.arm(limits_.body_idle_timeout);
  auto ec = last && !keep_alive_ ? co_await transport_.write_all_then_close_notify(out_)
                                 : co_await transport_.write_all(out_);
  out_.clear();
  co_return ec;
}

asio::awaitable<error_code> Http1Connection::write_body(std::string_view bytes, bool end_stream) {
  if (chunked_out_ && !bytes.empty()) {
    append_chunk_header(out_, bytes.size());
    out_ += bytes;
    out_ += kChunkEnd;
  } else {
    out_ += bytes;
  }
  if (end_stream && chunked_out_) out_ += kLastChunk;
  co_return co_await flush(end_stream);
}

asio::awaitable<error_code> Http1Connection::end_response(std::span<const OutField> trailers) {
  if (chunked_out_) {
    out_ += "0\r\n";
    HeadWriter w(out_);
    for (const auto& f : trailers) w.field(f.name, f.value);
    w.end();
  }
  co_return co_await flush(true);
}

void Http1Connection::abort() {
  keep_alive_ = false;
  transport_.close();
}

bool Http1Connection::client_gone() const {
  pollfd p{transport_.native_handle(), POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

asio::awaitable<error_code> Http1Connection::send_continue() {
  if (continue_sent_ || !parser_->head().expect_continue || response_started_)
    co_return error_code{};
  continue_sent_ = true;
  co_return co_await transport_.write_all("HTTP/1.1 100 Continue\r\n\r\n");
}

asio::awaitable<void> Http1Connection::reply_error(unsigned status, std::string_view code,
                                                   std::string_view message, const Extra& extra,
                                                   std::string_view limit) {
  // A small unread body is read and dropped so the connection survives the error (a client
  // refused with 429 under load should not pay a new TLS handshake); a big one closes it.
  if (draining_ || !co_await discard_body(64 * 1024)) keep_alive_ = false;
  auto bytes = error_response(status, code, message, extra, !keep_alive_, limit);
  response_started_ = true;
  co_await transport_.write_all(bytes);
}

}  // namespace scoregate::http
