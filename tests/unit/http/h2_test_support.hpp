// Test support for the HTTP/2 session tests: a server thread running one Http2Session on a real
// loopback socket with a scripted StreamHandler, and blocking clients (an nghttp2 client
// session, and a raw frame writer for the attack cases).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "http/http2_session.hpp"
#include "http/server_stream.hpp"

namespace scoregate::http::test {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Paths: /echo (body back, request head in x-* fields), /trailers (body + grpc-status
// trailer), /trailers-only, /read (reads the body; 408 when it times out), /error (reply_error),
// /hold (waits for release or client_gone), /big (writes big_bytes in 16 KiB pieces), /fields
// (mixed-case and forbidden fields), /limit (reads the body, reply 413 on body_limit).
class ScriptedHandler : public StreamHandler {
 public:
  boost::asio::awaitable<void> handle(ServerStream& stream) override;

  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::atomic<int> gone_seen{0};
  std::atomic<int> write_timeouts{0};
  std::atomic<bool> release{false};
  std::atomic<std::size_t> max_queued{0};
  std::size_t big_bytes = 1 << 20;
};

class TestServer {
 public:
  // tls: serve TLS (the handshake must choose "h2" in ALPN) instead of prior-knowledge h2c.
  // pre_read: bytes the server reads before the session starts (passed as already_read).
  explicit TestServer(ServerLimits limits = {}, SSL_CTX* tls = nullptr, std::size_t pre_read = 0);
  ~TestServer();
  std::uint16_t port() const { return port_; }
  void drain();
  void new_generation();  // what a reload does to the session
  bool wait_finished(std::chrono::milliseconds timeout);
  ScriptedHandler handler;

 private:
  boost::asio::awaitable<void> serve();
  ServerLimits limits_;
  SSL_CTX* tls_;
  std::size_t pre_read_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  Http2Session* session_ = nullptr;
  std::atomic<bool> finished_{false};

 public:
  std::atomic<bool> alpn_h2{false};
  std::atomic<bool> preface_seen{false};

 private:
  std::thread thread_;
};

int connect_loopback(std::uint16_t port);

struct Response {
  int status = 0;
  Headers headers;
  Headers trailers;
  std::string body;
  int header_frames = 0;
  int data_frames = 0;
  bool closed = false;
  std::uint32_t error = 0;  // RST_STREAM / close error code
  std::string field(const std::string& name) const;
};

// A blocking nghttp2 client session on a loopback socket.
class H2Client {
 public:
  explicit H2Client(std::uint16_t port, std::vector<nghttp2_settings_entry> settings = {});
  ~H2Client();
  std::int32_t request(const std::string& method, const std::string& path,
                       std::optional<std::string> body = std::nullopt, const Headers& extra = {});
  // A request with exactly these header fields (pseudo-headers included).
  std::int32_t submit(const Headers& fields);
  // A request whose body never comes (HEADERS without END_STREAM, then nothing).
  std::int32_t request_stalled(const std::string& path);
  void reset(std::int32_t id, std::uint32_t code = NGHTTP2_CANCEL);
  void flush();
  // Sends what is queued and reads until done() or the timeout; false on timeout.
  bool pump(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s);
  bool complete(std::int32_t id, std::chrono::milliseconds timeout = 5s) {
    return pump([&] { return responses[id].closed; }, timeout);
  }

  std::map<std::int32_t, Response> responses;
  bool goaway = false;
  int goaways = 0;
  std::uint32_t goaway_error = 0;
  std::int32_t goaway_last = -1;
  bool eof = false;
  nghttp2_session* session = nullptr;

 private:
  struct Body {
    std::string bytes;
    std::size_t offset = 0;
    bool stall = false;
  };
  std::int32_t submit_with(Headers fields, std::optional<Body> body);
  int fd_ = -1;
  std::vector<std::unique_ptr<Body>> bodies_;
  friend struct ClientCallbacks;
};

// Raw frames for what a well-behaved client library refuses to send.
std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload);
inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  ~RawClient();
  // False when the peer closed or reset the connection.
  bool send(std::string_view bytes);
  // Reads until EOF or the timeout; true on EOF (or reset). Frames received are parsed.
  bool read_until_closed(std::chrono::milliseconds timeout);
  std::optional<std::uint32_t> goaway_error;

 private:
  void parse();
  int fd_ = -1;
  std::string in_;
};

}  // namespace scoregate::http::test
