// The inside of the HTTP/2 client (upstream/h2_client.hpp): one H2Connection per socket to a
// model, its streams, the TLS client setup and the error codes. Private to upstream/.
//
// Ownership: the pool and the connection's two coroutines (reader, writer) hold the
// connection; a stream holds its StreamState and only a weak reference to the connection, so a
// stream may outlive a dead connection and then only reports an error. The connection keeps
// every stream nghttp2 still knows in `streams_`, so nghttp2's raw pointers to a StreamState
// (stream user data, data source) stay valid until its on_stream_close.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "http/client_transport.hpp"
#include "upstream/h2_client.hpp"

namespace scoregate::upstream {

enum class h2_errc {
  connection_closed = 1,  // the connection to the model ended before the stream did
  stream_reset,           // the model reset the stream (RST_STREAM), see reset_code()
  stream_refused,         // the model did not process the stream (retry elsewhere)
  alpn_not_h2,            // the TLS handshake did not agree on ALPN "h2"
  protocol_error,         // the model broke HTTP/2 (nghttp2 ended the session)
  header_too_large,       // a response head or trailers above max_header_list
  submit_failed,          // nghttp2 refused the request head
  stream_ended,           // write_body after end_stream, or after the stream closed
};
const boost::system::error_category& h2_category();
inline boost::system::error_code make_error_code(h2_errc e) {
  return {static_cast<int>(e), h2_category()};
}
// A failed certificate verification; the value is OpenSSL's X509_V_ERR_* code.
const boost::system::error_category& x509_verify_category();

// Per-stream state shared by the H2Stream handle and the connection's callbacks.
struct StreamState {
  explicit StreamState(const boost::asio::any_io_executor& ex) : event(ex) {}
  void wake() { event.cancel(); }  // every pending wait re-checks its condition

  boost::asio::steady_timer event;  // used as an event: never expires, cancel() wakes
  std::int32_t id = -1;
  // Request body not yet handed to nghttp2.
  std::string send_buf;
  std::size_t send_off = 0;
  bool send_end = false;  // write_body(end_stream) came (or the head ended the request)
  bool deferred = false;  // the data provider returned NGHTTP2_ERR_DEFERRED
  bool headers_sent = false;
  // Response.
  H2ResponseHead head, building;
  bool head_ready = false;
  bool in_trailers = false;
  std::size_t header_bytes = 0;  // of the header block being received
  std::string body;              // received, not yet handed out
  std::size_t unconsumed = 0;    // received bytes not yet given back to the window
  bool remote_end = false;
  std::vector<H2Header> trailers;
  // End.
  bool closed = false;  // nghttp2 no longer knows the stream
  bool cancelled = false;
  bool refused = false;
  std::uint32_t reset_code = 0;
  boost::system::error_code ec;  // why the stream failed, if it did

  std::size_t queued() const { return send_buf.size() - send_off; }
};
using StreamStatePtr = std::shared_ptr<StreamState>;

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  H2Connection(const boost::asio::any_io_executor& ex, TargetPtr target, H2Mode mode,
               const H2PoolLimits& limits);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // TCP connect, TLS handshake (h2), session set-up and the reader/writer coroutines; the
  // whole bounded by timeout. On failure the connection is dead and timed_out() tells why.
  boost::asio::awaitable<boost::system::error_code> connect(SSL_CTX* tls,
                                                            std::chrono::milliseconds timeout);
  // Waits until a connect() in progress ends; the connect's error.
  boost::asio::awaitable<boost::system::error_code> wait_connected();
  std::unique_ptr<H2Stream> submit(const H2RequestHead& head, boost::system::error_code& ec);

  bool connecting() const { return state_ == State::connecting; }
  bool dead() const { return state_ == State::dead; }
  bool timed_out() const { return timed_out_; }
  bool goaway() const { return goaway_; }
  // Streams on it plus opens waiting for it to connect.
  std::size_t load() const { return streams_.size() + reserved_; }
  bool has_room() const;
  bool idle_for_longer(Clock::time_point now, std::chrono::milliseconds limit) const;
  void reserve() { ++reserved_; }
  void unreserve() { --reserved_; }
  // GOAWAY (NO_ERROR), flushed without waiting, then close (pool sweep and close_all).
  void close_gracefully();

  // For H2StreamImpl.
  nghttp2_session* session() { return session_; }
  void wake_writer() { writer_event_.cancel(); }
  void consume(StreamState& s, std::size_t n);

 private:
  enum class State { connecting, ready, dead };
  boost::asio::awaitable<boost::system::error_code> tls_handshake();
  boost::system::error_code start_session();
  boost::asio::awaitable<void> reader(std::shared_ptr<H2Connection> self);
  boost::asio::awaitable<void> writer(std::shared_ptr<H2Connection> self);
  bool gather(std::string& out);
  void fail(boost::system::error_code ec);
  void forget(std::int32_t id);
  StreamState* stream_of(std::int32_t id);

  // nghttp2 callbacks (user_data is the connection).
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_header(nghttp2_session*, const nghttp2_frame*, const std::uint8_t*, std::size_t,
                       const std::uint8_t*, std::size_t, std::uint8_t, void*);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_data_chunk(nghttp2_session*, std::uint8_t, std::int32_t, const std::uint8_t*,
                           std::size_t, void*);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame*, void*);
  static int on_frame_not_send(nghttp2_session*, const nghttp2_frame*, int, void*);
  static int on_stream_close(nghttp2_session*, std::int32_t, std::uint32_t, void*);
  static ssize_t read_body_source(nghttp2_session*, std::int32_t, std::uint8_t*, std::size_t,
                                  std::uint32_t*, nghttp2_data_source*, void*);
  void on_headers_done(StreamState& s, const nghttp2_frame* frame);
  void on_goaway(const nghttp2_goaway& g);

  boost::asio::any_io_executor ex_;
  TargetPtr target_;
  H2Mode mode_;
  H2PoolLimits limits_;
  State state_ = State::connecting;
  bool timed_out_ = false;
  bool goaway_ = false;
  bool settings_received_ = false;  // the model's first SETTINGS frame
  bool writing_ = false;  // the writer is inside write_all (a TLS write must be retried as is)
  std::size_t reserved_ = 0;
  Clock::time_point idle_since_ = Clock::now();
  std::unique_ptr<http::ClientTransport> transport_;
  SSL* ssl_ = nullptr;  // owned by transport_
  nghttp2_session* session_ = nullptr;
  boost::asio::steady_timer writer_event_;
  boost::asio::steady_timer connected_event_;
  boost::system::error_code connect_ec_;
  std::unordered_map<std::int32_t, StreamStatePtr> streams_;
  std::vector<char> read_buf_;
};

// The H2Stream handed to callers.
class H2StreamImpl final : public H2Stream {
 public:
  H2StreamImpl(std::weak_ptr<H2Connection> conn, StreamStatePtr state)
      : conn_(std::move(conn)), s_(std::move(state)) {}
  ~H2StreamImpl() override;
  boost::asio::awaitable<boost::system::error_code> write_body(std::string_view data,
                                                               bool end_stream) override;
  boost::asio::awaitable<boost::system::error_code> read_head(H2ResponseHead& out) override;
  boost::asio::awaitable<boost::system::error_code> read_body(std::string& out, bool& end) override;
  const std::vector<H2Header>& trailers() const override { return s_->trailers; }
  void cancel() override;
  bool refused() const override { return s_->refused; }
  std::uint32_t reset_code() const override { return s_->reset_code; }

 private:
  boost::asio::awaitable<void> wait();
  boost::system::error_code failure() const;

  std::weak_ptr<H2Connection> conn_;
  StreamStatePtr s_;
};

// TLS client set-up of one connection: SNI and the name or IP the certificate must carry,
// from the target's address. False when SSL refuses the values.
bool set_tls_peer_name(SSL* ssl, const std::string& target_address);

}  // namespace scoregate::upstream

template <>
struct boost::system::is_error_code_enum<scoregate::upstream::h2_errc> : std::true_type {};
