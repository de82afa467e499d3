// A real HTTP/2 server for the upstream HTTP/2 client's tests: an nghttp2 server session per
// accepted loopback connection, one thread each, plain (h2c) or TLS. What it answers depends
// on the request path:
//   /hello      103 then 200 "hello" with x-test: yes
//   /empty      204, the response ends with its HEADERS
//   /echo       200 with the request body (x-got: its length)
//   /big?n=N    200 with N bytes
//   /hugehead   200 with a 40000-byte x-big field
//   /trailers   200 "abc" then trailers grpc-status: 0, grpc-message: fine
//   /rst        RST_STREAM INTERNAL_ERROR on the request's HEADERS
//   /refuse     RST_STREAM REFUSED_STREAM on the request's HEADERS
//   /goaway     GOAWAY with last-stream-id = this stream's id - 2; the stream is not processed
//   /hold?ms=N  200 "held" N ms after the request ended (N = -1: never)
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace scoregate::upstream::testing {

struct H2ServerOptions {
  std::uint32_t max_concurrent_streams = 100;
  SSL_CTX* tls = nullptr;  // TLS when set (the context picks the ALPN protocol)
};

class H2TestServer {
 public:
  explicit H2TestServer(H2ServerOptions options = {});
  ~H2TestServer();
  H2TestServer(const H2TestServer&) = delete;
  H2TestServer& operator=(const H2TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  // The most streams open at once on one connection.
  int max_in_flight() const { return max_in_flight_.load(); }
  int in_flight() const { return in_flight_.load(); }
  // Error codes of the RST_STREAM frames the client sent.
  std::vector<std::uint32_t> resets_received() const;
  int completed_requests() const { return completed_.load(); }

  // Used by the connection threads.
  void note_open(int on_connection);
  void note_close(std::uint32_t client_reset_code, bool client_reset);
  void note_completed() { ++completed_; }

 private:
  void accept_loop();
  void serve(int fd);

  H2ServerOptions options_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0}, max_in_flight_{0}, in_flight_{0}, completed_{0};
  mutable std::mutex mutex_;
  std::vector<std::uint32_t> resets_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A TLS server context answering ALPN with "h2" (alpn_h2 false: no ALPN answer at all).
SSL_CTX* make_server_tls(const std::string& cert_chain_pem, const std::string& key_pem,
                         bool alpn_h2 = true);

}  // namespace scoregate::upstream::testing
