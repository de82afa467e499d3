// The HTTP/1.1 side of one client connection, on top of its ClientTransport
// (http/client_transport.hpp): the TLS handshake, then a straight-line loop of requests
// (keep-alive, pipelining-safe: bytes after a request stay in the buffer for the next). Each
// request is handed to a StreamHandler as a ServerStream (http/server_stream.hpp): this class
// is the stream of its current request. An HTTP/2 client is handed over to an Http2Session
// (http/http2_session.hpp) on the same transport: after the handshake when ALPN chose "h2",
// or when a plain connection starts with the HTTP/2 preface.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/body_rate.hpp"
#include "http/buffer.hpp"
#include "http/client_transport.hpp"
#include "http/parser.hpp"
#include "http/server_stream.hpp"
#include "http/watchdog.hpp"

namespace scoregate::http {

class Http1Connection final : public ServerStream, public ClientConnection {
 public:
  // peer_address: the client's address as accept() gave it; empty = ask the socket.
  Http1Connection(ClientTransport& transport, const ServerLimits& limits, StreamHandler& handler,
                  std::string peer_address = {});

  enum class Outcome : std::uint8_t { closed, switch_to_h2 };
  // switch_to_h2: the client speaks HTTP/2 (ALPN h2, or the h2c preface with limits.http2);
  // nothing was answered, and buffered() holds the bytes already read.
  boost::asio::awaitable<Outcome> run();
  std::string_view buffered() const { return in_.data(); }

  // --- ServerStream ---
  Protocol protocol() const override { return Protocol::h1; }
  const RequestHead& request() const override { return parser_->head(); }
  std::uint64_t body_bytes() const override { return parser_->body_bytes(); }
  boost::asio::awaitable<error_code> read_body(std::vector<std::string_view>& pieces) override;
  boost::asio::awaitable<error_code> start_response(const ResponseStart& start) override;
  boost::asio::awaitable<error_code> write_body(std::string_view bytes,
                                                bool end_stream = false) override;
  boost::asio::awaitable<error_code> end_response(std::span<const OutField> trailers = {}) override;
  boost::asio::awaitable<void> reply_error(unsigned status, std::string_view code,
                                           std::string_view message, const Extra& extra = {},
                                           std::string_view limit = {}) override;
  void abort() override;
  bool client_gone() const override;
  bool timed_out() const override { return watchdog_.expired(); }
  const ServerLimits& limits() const override { return limits_; }
  const std::string& peer_address() const override { return peer_; }
  void close_after_response() override { keep_alive_ = false; }
  bool keep_alive() const override { return keep_alive_; }

  // Sends "100 Continue" when the client asked for it and it was not sent yet.
  boost::asio::awaitable<error_code> send_continue();
  ClientTransport& transport() { return transport_; }

  // --- ClientConnection (the worker) ---
  // Draining: an idle connection closes now; a busy one after its current response.
  void begin_drain() override;
  bool idle() const override { return idle_ && !draining_ && requests_ > 0 && in_.empty(); }
  void close_if_idle() override;

 private:
  boost::asio::awaitable<bool> read_head();
  bool h2_preface_seen(bool& need_more) const;
  boost::asio::awaitable<void> reject_malformed(const error_code& ec);
  boost::asio::awaitable<void> finish(bool graceful);
  boost::asio::awaitable<bool> discard_body(std::uint64_t limit);
  // last: the response ends with these bytes (then, if the connection closes after it, TLS
  // close_notify leaves in the same write).
  boost::asio::awaitable<error_code> flush(bool last);

  ClientTransport& transport_;
  const ServerLimits& limits_;
  StreamHandler& handler_;
  Watchdog watchdog_;
  ReadBuffer in_;
  // The current request's parser, from a per-thread free list (http1_connection.cpp): an idle
  // connection holds none, not even inline (README "Benchmarks").
  struct ParserRecycler {
    void operator()(RequestParser* p) const;
  };
  std::unique_ptr<RequestParser, ParserRecycler> parser_;
  std::optional<BodyRate> body_rate_;  // the current request's, from its first read_body()
  std::string peer_;
  std::string out_;  // the response head waiting for its first body bytes, then each write
  std::size_t pending_consume_ = 0;
  std::uint64_t requests_ = 0;
  bool keep_alive_ = true;
  bool chunked_out_ = false;  // the current response is sent with chunked framing
  bool continue_sent_ = false;
  bool idle_ = true;
  bool draining_ = false;
  bool switch_h2_ = false;
};

}  // namespace scoregate::http
