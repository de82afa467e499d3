// TLS for h2 upstreams (upstream/h2_client.hpp): the client context, the peer name checked on
// the model's certificate, and the client handshake on the non-blocking socket (OpenSSL
// driven directly with Asio readiness waits, like http/client_transport.cpp on the server
// side), plus the error categories of the HTTP/2 client.
#include <boost/asio/ip/address.hpp>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "http/awaitable.hpp"
#include "tls/compat.hpp"
#include "upstream/h2_connection.hpp"
#include "upstream/targets.hpp"

namespace scoregate::upstream {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

class H2Category : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "h2-upstream"; }
  std::string message(int ev) const override {
    switch (static_cast<h2_errc>(ev)) {
      case h2_errc::connection_closed:
        return "the HTTP/2 connection to the model closed";
      case h2_errc::stream_reset:
        return "the model reset the HTTP/2 stream";
      case h2_errc::stream_refused:
        return "the model refused the HTTP/2 stream before processing it";
      case h2_errc::alpn_not_h2:
        return "the model did not agree to HTTP/2 in the TLS handshake (ALPN \"h2\")";
      case h2_errc::protocol_error:
        return "the model broke the HTTP/2 protocol";
      case h2_errc::header_too_large:
        return "the model's response head or trailers are too large";
      case h2_errc::submit_failed:
        return "the request head could not be sent over HTTP/2";
      case h2_errc::stream_ended:
        return "the HTTP/2 stream already ended";
    }
    return "HTTP/2 upstream error";
  }
};

class X509Category : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "x509-verify"; }
  std::string message(int ev) const override {
    return std::string("the model's certificate failed verification: ") +
           tls::verify_error_text(ev);
  }
};

std::string openssl_reason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "unknown error";
}

// ALPN protocol list in wire format: one length-prefixed "h2".
constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

}  // namespace

const boost::system::error_category& h2_category() {
  static const H2Category c;
  return c;
}

const boost::system::error_category& x509_verify_category() {
  static const X509Category c;
  return c;
}

std::shared_ptr<SSL_CTX> make_client_tls_context(const std::string& trusted_ca_file,
                                                 std::string& error) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) {
    error = "cannot create a TLS client context: " + openssl_reason();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // A missing system store is not an error: trusted_ca_file may be the only trust.
  tls::use_system_trust(SSL_CTX_get_cert_store(ctx.get()));
  ERR_clear_error();
  if (!trusted_ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx.get(), trusted_ca_file.c_str(), nullptr) != 1) {
    error = "cannot load trusted CA certificates from " + trusted_ca_file + ": " +
            openssl_reason() + "; give a readable PEM file of CA certificates";
    return nullptr;
  }
  if (SSL_CTX_set_alpn_protos(ctx.get(), kAlpnH2, sizeof kAlpnH2) != 0) {
    error = "cannot offer ALPN \"h2\": " + openssl_reason();
    return nullptr;
  }
  return ctx;
}

bool set_tls_peer_name(SSL* ssl, const std::string& target_address) {
  auto spec = parse_target(target_address);
  std::string host = spec ? spec->host : target_address;
  error_code ec;
  asio::ip::make_address(host, ec);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec)  // an IP address: no SNI (RFC 6066 forbids literals), match an IP SAN
    return X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) == 1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set_tlsext_host_name(ssl, host.c_str()) == 1 &&
         X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) == 1;
}

// Runs on a transport that already holds ssl (SSL_set_fd done by ClientTransport).
asio::awaitable<error_code> H2Connection::tls_handshake() {
  SSL_set_connect_state(ssl_);
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) break;
    int kind = SSL_get_error(ssl_, r);
    asio::socket_base::wait_type want = asio::socket_base::wait_read;
    if (kind == SSL_ERROR_WANT_WRITE) {
      want = asio::socket_base::wait_write;
    } else if (kind != SSL_ERROR_WANT_READ) {
      long verify = SSL_get_verify_result(ssl_);
      unsigned long e = ERR_get_error();
      ERR_clear_error();
      if (verify != X509_V_OK)
        co_return error_code(static_cast<int>(verify), x509_verify_category());
      if (kind == SSL_ERROR_SSL)
        co_return error_code(static_cast<int>(e ? e : 1), http::openssl_category());
      co_return error_code(asio::error::connection_reset);
    }
    auto [ec] = co_await transport_->socket().async_wait(want, nothrow);
    if (ec) co_return ec;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn_len != 2 || alpn[0] != 'h' || alpn[1] != '2')
    co_return make_error_code(h2_errc::alpn_not_h2);
  co_return error_code{};
}

}  // namespace scoregate::upstream
