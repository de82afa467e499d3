// The bytes of one client connection: plain TCP or TLS over the same socket. It knows
// nothing of HTTP; the protocol on top of it is an Http1Connection (http/http1_connection.hpp)
// or an Http2Session (http/http2_session.hpp).
//
// TLS runs OpenSSL directly on the non-blocking socket (SSL_set_fd) and waits for readiness
// through Asio, the way nginx does, instead of Asio's ssl::stream: that one keeps two 17 KiB
// buffers per connection and copies every byte through a BIO pair, which would cost an idle
// connection ~5 times what nginx pays.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

namespace scoregate::http {

namespace asio = boost::asio;
using boost::system::error_code;

struct IoResult {
  error_code ec;
  std::size_t bytes = 0;
};

// Writes every byte to a non-blocking socket: first directly (a keep-alive request usually
// fits in the socket buffer, so no asynchronous operation, handler or scheduler round trip
// is needed), then the rest asynchronously.
// OpenSSL's error queue codes as error_codes (the message is OpenSSL's reason string).
const boost::system::error_category& openssl_category();

// The part of `buffers` not yet written after a write of `done` bytes.
std::vector<asio::const_buffer> remaining_buffers(std::span<const asio::const_buffer> buffers,
                                                  std::size_t done);

asio::awaitable<error_code> write_fully(asio::ip::tcp::socket& socket,
                                        std::span<const asio::const_buffer> buffers);

class ClientTransport {
 public:
  // ssl == nullptr: plain HTTP. The transport owns ssl and frees it.
  ClientTransport(asio::ip::tcp::socket socket, SSL* ssl);
  ~ClientTransport();
  ClientTransport(const ClientTransport&) = delete;
  ClientTransport& operator=(const ClientTransport&) = delete;

  asio::ip::tcp::socket& socket() { return socket_; }
  int native_handle() const { return const_cast<asio::ip::tcp::socket&>(socket_).native_handle(); }
  bool secure() const { return ssl_ != nullptr; }
  // The protocol ALPN chose in the handshake ("h2", "http/1.1"), "" when none or plain.
  std::string_view alpn() const;

  asio::awaitable<error_code> handshake();
  // Waits until a read would make progress, without needing a buffer (idle keep-alive).
  asio::awaitable<error_code> wait_readable();
  asio::awaitable<IoResult> read_some(char* data, std::size_t size);
  asio::awaitable<error_code> write_all(std::string_view bytes);
  // The last bytes before the connection closes: with TLS, close_notify is sealed right
  // behind them and both leave in one write (one system call and one TCP segment less than
  // write_all() and lingering_close() each writing); lingering_close() then sends no second
  // one. Plain connections: write_all().
  asio::awaitable<error_code> write_all_then_close_notify(std::string_view bytes);
  // Sends close_notify (TLS) and FIN, then reads and discards what the peer still sends,
  // for at most `max_bytes`, so our last response is not destroyed by a RST.
  asio::awaitable<void> lingering_close(std::size_t max_bytes);
  // Aborts pending operations (used by timeouts and drain).
  void cancel();
  void close();

 private:
  asio::awaitable<error_code> wait(asio::socket_base::wait_type w);
  error_code ssl_error(int ret, int* want);

  asio::ip::tcp::socket socket_;
  SSL* ssl_;
};

}  // namespace scoregate::http
