// One HTTP/2 client connection (RFC 9113) on a ClientTransport: TLS after a handshake that
// chose "h2" in ALPN, or plain h2c with prior knowledge. Each request stream is an
// http::ServerStream handed to the StreamHandler in its own coroutine, so streams run
// concurrently. Framing, HPACK, flow control and the abuse limits are in the sans-IO
// Http2Core (http/http2_core.hpp); this class moves its bytes and wakes the waiting streams
// (docs/ARCHITECTURE.md "A request, file by file").
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "http/client_transport.hpp"
#include "http/http2_core.hpp"
#include "http/server_stream.hpp"
#include "http/watchdog.hpp"

namespace scoregate::http {

class H2ServerStream;

class Http2Session final : public ClientConnection, private H2Events {
 public:
  // transport: TLS already handshaken (ALPN "h2"), or plain. already_read: bytes read from the
  // transport before (the h2c connection preface may already be in them; may be empty).
  Http2Session(ClientTransport& transport, const ServerLimits& limits, StreamHandler& handler,
               std::string peer_address, std::string_view already_read = {});
  ~Http2Session() override;
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Returns when the connection is over and every stream coroutine has finished.
  boost::asio::awaitable<void> run();
  // GOAWAY with the last stream id; streams in flight finish, then the connection closes.
  void begin_drain() override;
  // A reload: GOAWAY(2^31-1) now, the real GOAWAY (begin_drain) kNoticeToGoaway later, so a
  // request the client sent just before it saw the first one is still served.
  void on_new_generation() override;
  // No stream in flight and no GOAWAY sent yet.
  bool idle() const override {
    return in_flight_ == 0 && !closing_ && !idle_goaway_ && !core_.goaway_sent();
  }
  void close_if_idle() override {
    if (idle()) begin_drain();  // GOAWAY(NO_ERROR), closed after the grace if the client stays
  }
  std::size_t streams_in_flight() const { return in_flight_; }

 private:
  friend class H2ServerStream;

  void on_request(H2Stream& s) override;
  void on_stream_event(H2Stream& s) override;
  boost::asio::awaitable<void> reader();
  boost::asio::awaitable<void> writer();
  void stream_finished(H2ServerStream* stream);
  void wake_writer();
  void on_watchdog();

  ClientTransport& transport_;
  const ServerLimits& limits_;
  StreamHandler& handler_;
  std::string peer_;
  std::string pending_in_;  // already_read, fed to the core when run() starts
  Http2Core core_;
  boost::asio::steady_timer writer_event_;
  boost::asio::steady_timer done_event_;
  Watchdog watchdog_;
  boost::asio::steady_timer notice_timer_;  // shutdown notice -> GOAWAY (on_new_generation)
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for notice_timer_'s handler
  std::unique_ptr<char[]> read_buffer_;  // held only while streams are in flight
  std::string out_;
  std::size_t in_flight_ = 0;
  bool closing_ = false;
  bool writer_running_ = false;
  bool idle_goaway_ = false;
  bool lingering_ = false;
};

// True when `bytes` is a (possibly partial) prefix of the HTTP/2 client preface
// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".
bool is_h2_preface_prefix(std::string_view bytes);

}  // namespace scoregate::http
