#include "http/client_transport.hpp"
#include "http/awaitable.hpp"
#include "http/read_ahead_bio.hpp"
#include "tls/compat.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/err.h>

#include <cerrno>
#include <vector>

namespace scoregate::http {

namespace {

class SslCategory : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "openssl"; }
  std::string message(int ev) const override {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ev), buf, sizeof buf);
    return buf;
  }
};
const SslCategory ssl_category;
}  // namespace

const boost::system::error_category& openssl_category() { return ssl_category; }

std::vector<asio::const_buffer> remaining_buffers(std::span<const asio::const_buffer> buffers,
                                                  std::size_t done) {
  std::vector<asio::const_buffer> rest;
  for (auto b : buffers) {
    if (done >= b.size()) {
      done -= b.size();
      continue;
    }
    rest.push_back(b + done);
    done = 0;
  }
  return rest;
}

asio::awaitable<error_code> write_fully(asio::ip::tcp::socket& socket,
                                        std::span<const asio::const_buffer> buffers) {
  error_code ec;
  if (!socket.non_blocking())
    socket.non_blocking(true, ec);  // a blocking write would stall the worker
  std::size_t total = asio::buffer_size(buffers);
  std::size_t done = socket.write_some(buffers, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
  if (ec || done == total) co_return ec;
  auto rest = remaining_buffers(buffers, done);
  auto [wec, n] = co_await asio::async_write(socket, rest, nothrow);
  co_return wec;
}

ClientTransport::ClientTransport(asio::ip::tcp::socket socket, SSL* ssl)
    : socket_(std::move(socket)), ssl_(ssl) {
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // direct reads and writes first, waits only when needed
  if (ssl_) {
    // Clients that drop the connection without close_notify are routine; HTTP framing,
    // not TLS, tells a complete request from a cut one.
    SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    // Read whole records (and more) per read() instead of header and body separately.
#if defined(OPENSSL_IS_BORINGSSL)
    BIO* in = new_read_ahead_bio(socket_.native_handle());  // BoringSSL has no read-ahead
    BIO* out = in ? BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE) : nullptr;
    if (out) {
      SSL_set_bio(ssl_, in, out);
    } else {
      BIO_free(in);
      SSL_set_fd(ssl_, socket_.native_handle());
    }
#else
    SSL_set_fd(ssl_, socket_.native_handle());
    SSL_set_read_ahead(ssl_, 1);
#endif
  }
}

ClientTransport::~ClientTransport() {
  if (ssl_) SSL_free(ssl_);
}

asio::awaitable<error_code> ClientTransport::wait(asio::socket_base::wait_type w) {
  auto [ec] = co_await socket_.async_wait(w, nothrow);
  co_return ec;
}

// Maps an SSL_* failure to an error_code; *want is the readiness to wait for, or -1.
// SSL_get_error needs this thread's error queue to hold only this operation's errors. Rather
// than clearing the queue before every read and write (ERR_clear_error costs ~4% of a
// keep-alive request in OpenSSL 3), every path that can leave errors behind clears them.
error_code ClientTransport::ssl_error(int ret, int* want) {
  *want = -1;
  const int saved_errno = errno;
  int kind = SSL_get_error(ssl_, ret);
  if (kind == SSL_ERROR_SYSCALL || kind == SSL_ERROR_SSL) {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (kind == SSL_ERROR_SSL) return {static_cast<int>(e ? e : 1), ssl_category};
    if (saved_errno == 0) return asio::error::eof;
    return {saved_errno, boost::system::system_category()};
  }
  switch (kind) {
    case SSL_ERROR_WANT_READ:
      *want = asio::socket_base::wait_read;
      return {};
    case SSL_ERROR_WANT_WRITE:
      *want = asio::socket_base::wait_write;
      return {};
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    default:
      ERR_clear_error();
      return {1, ssl_category};
  }
}

asio::awaitable<error_code> ClientTransport::handshake() {
  if (!ssl_) co_return error_code{};
  SSL_set_accept_state(ssl_);
  for (;;) {
    int r = SSL_do_handshake(ssl_);
    if (r == 1) co_return error_code{};
    int want;
    error_code ec = ssl_error(r, &want);
    if (want < 0) co_return ec;
    if ((ec = co_await wait(static_cast<asio::socket_base::wait_type>(want)))) co_return ec;
  }
}

std::string_view ClientTransport::alpn() const {
  if (!ssl_) return {};
  const unsigned char* data = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return {reinterpret_cast<const char*>(data), len};
}

asio::awaitable<error_code> ClientTransport::wait_readable() {
  if (ssl_ && SSL_has_pending(ssl_)) co_return error_code{};
#if defined(OPENSSL_IS_BORINGSSL)
  // Bytes the read-ahead BIO took from the socket but BoringSSL has not asked for yet (a
  // pipelined request, the next HTTP/2 frames): the socket may never be readable again.
  if (ssl_ && BIO_pending(SSL_get_rbio(ssl_)) > 0) co_return error_code{};
#endif
  // Awaited here rather than through wait(): one coroutine frame less parked per idle
  // connection.
  auto [ec] = co_await socket_.async_wait(asio::socket_base::wait_read, nothrow);
  co_return ec;
}

asio::awaitable<IoResult> ClientTransport::read_some(char* data, std::size_t size) {
  if (!ssl_) {
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(data, size), nothrow);
    co_return IoResult{ec, n};
  }
  for (;;) {
    std::size_t got = 0;
    int r = SSL_read_ex(ssl_, data, size, &got);
    if (r == 1) co_return IoResult{{}, got};
    int want;
    error_code ec = ssl_error(r, &want);
    if (want < 0) co_return IoResult{ec, 0};
    if ((ec = co_await wait(static_cast<asio::socket_base::wait_type>(want))))
      co_return IoResult{ec, 0};
  }
}

asio::awaitable<error_code> ClientTransport::write_all(std::string_view bytes) {
  if (bytes.empty()) co_return error_code{};
  if (!ssl_) {
    asio::const_buffer b(bytes.data(), bytes.size());
    co_return co_await write_fully(socket_, std::span<const asio::const_buffer>(&b, 1));
  }
  for (;;) {
    std::size_t written = 0;
    // SSL_write_ex without partial writes: on WANT_* it must be retried with the same bytes.
    int r = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written);
    if (r == 1) co_return error_code{};
    int want;
    error_code ec = ssl_error(r, &want);
    if (want < 0) co_return ec;
    if ((ec = co_await wait(static_cast<asio::socket_base::wait_type>(want)))) co_return ec;
  }
}

asio::awaitable<error_code> ClientTransport::write_all_then_close_notify(std::string_view bytes) {
  if (!ssl_ || bytes.empty() || !SSL_is_init_finished(ssl_) || SSL_get_shutdown(ssl_) != 0)
    co_return co_await write_all(bytes);
  // Records are sealed into a memory BIO instead of the socket, then written together.
  BIO* memory = BIO_new(BIO_s_mem());
  BIO* sock = SSL_get_wbio(ssl_);
  if (!memory || BIO_up_ref(sock) != 1) {
    BIO_free(memory);
    ERR_clear_error();
    co_return co_await write_all(bytes);
  }
  BIO_up_ref(memory);           // ours, for the write below
  SSL_set0_wbio(ssl_, memory);  // the SSL's reference
  std::size_t written = 0;
  const bool sealed = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) == 1;
  if (sealed) SSL_shutdown(ssl_);  // close_notify, into the same BIO
  ERR_clear_error();               // see ssl_error(): leave the queue empty
  SSL_set0_wbio(ssl_, sock);       // back to the socket; frees the SSL's memory reference
  char* data = nullptr;
  const long size = BIO_get_mem_data(memory, &data);
  error_code ec;
  if (!sealed) {
    ec = {1, ssl_category};
  } else if (size > 0) {
    asio::const_buffer b(data, static_cast<std::size_t>(size));
    ec = co_await write_fully(socket_, std::span<const asio::const_buffer>(&b, 1));
  }
  BIO_free(memory);
  co_return ec;
}

asio::awaitable<void> ClientTransport::lingering_close(std::size_t max_bytes) {
  error_code ec;
  // close_notify once: not again when write_all_then_close_notify() sent it
  if (ssl_ && SSL_is_init_finished(ssl_) && !(SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) {
    SSL_shutdown(ssl_);  // queue close_notify once; do not wait for the peer's
    ERR_clear_error();   // its outcome does not matter; leave the queue empty (see ssl_error)
  }
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
  char sink[4096];
  std::size_t drained = 0;
  while (!ec && drained < max_bytes) {
    // Plain reads on purpose: after close_notify the TLS layer has nothing more to say.
    auto [rec, n] = co_await socket_.async_read_some(asio::buffer(sink), nothrow);
    ec = rec;
    drained += n;
  }
  socket_.close(ec);
}

void ClientTransport::cancel() {
  error_code ec;
  socket_.cancel(ec);
}

void ClientTransport::close() {
  error_code ec;
  socket_.close(ec);
}

}  // namespace scoregate::http
