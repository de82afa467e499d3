#include "doctor/probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "core/secure.hpp"
#include "http/parser.hpp"
#include "tls/compat.hpp"
#include "tls/openssl_util.hpp"

namespace scoregate::doctor {

namespace {

constexpr int kTimeoutMs = 10000;

struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

// One TCP connection (closed on destruction) with a TLS client on it.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

  // Empty on success, else why not.
  std::string connect(const std::string& host, const std::string& port);
  std::string start_tls(SSL_CTX* ctx, const std::string& host);
  SSL* ssl() const { return ssl_.get(); }

 private:
  int fd_ = -1;
  std::unique_ptr<SSL, SslDeleter> ssl_;
};

bool wait_connected(int fd) {
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, kTimeoutMs) != 1) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

std::string Connection::connect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list); rc != 0)
    return std::string("cannot resolve ") + host + ": " + gai_strerror(rc);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(list, freeaddrinfo);
  for (auto* a = list; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if ((::connect(fd, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) &&
        wait_connected(fd)) {
      // Blocking from here on, with timeouts, so OpenSSL's reads and writes simply block.
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      timeval tv{kTimeoutMs / 1000, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      fd_ = fd;
      return {};
    }
    ::close(fd);
  }
  return "cannot connect to " + host + ":" + port + " (refused or timed out)";
}

std::string Connection::start_tls(SSL_CTX* ctx, const std::string& host) {
  ssl_.reset(SSL_new(ctx));
  SSL_set_fd(ssl_.get(), fd_);
  if (!tls::is_ip_address(host)) SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
  ERR_clear_error();
  if (SSL_connect(ssl_.get()) == 1) return {};
  auto why = tls::openssl_errors();
  // "error:0A00042E:SSL routines::tlsv1 alert protocol version": the reason is what people read.
  if (const auto at = why.rfind("::"); at != std::string::npos) why = why.substr(at + 2);
  return why.empty() ? "the server closed the connection during the handshake" : why;
}

std::unique_ptr<SSL_CTX, CtxDeleter> client_context() {
  std::unique_ptr<SSL_CTX, CtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  // The verdicts come from the verify result, read after the handshake: a chain that does not
  // verify must still let doctor see the certificate and report on it.
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

void set_alpn(SSL_CTX* ctx, bool offer_h2) {
  static const unsigned char both[] = "\x02h2\x08http/1.1";
  static const unsigned char http11[] = "\x08http/1.1";
  if (offer_h2)
    SSL_CTX_set_alpn_protos(ctx, both, sizeof both - 1);
  else
    SSL_CTX_set_alpn_protos(ctx, http11, sizeof http11 - 1);
}

std::string request_text(const std::string& host, const std::string& port, const std::string& path,
                         const std::optional<std::string>& key) {
  const std::string authority = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::string r = "POST " + path + " HTTP/1.1\r\nHost: " + authority + ":" + port +
                  "\r\nUser-Agent: scoregate-doctor\r\nContent-Type: application/json\r\n"
                  "Content-Length: 2\r\nConnection: close\r\n";
  if (key) r += "Authorization: Bearer " + *key + "\r\n";
  return r + "\r\n{}";
}

// Reads the answer until it is complete or the server closes; keeps the first 4 KiB of body.
void read_answer(SSL* ssl, HttpAnswer& out) {
  constexpr std::size_t kKeep = 4096;
  http::ResponseParser parser(64 * 1024, 16 * 1024 * 1024);
  std::string buffer;
  char chunk[16384];
  boost::system::error_code ec;
  while (!parser.done()) {
    const int n = SSL_read(ssl, chunk, sizeof chunk);
    if (n <= 0) {
      parser.put_eof(ec);
      break;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    while (!buffer.empty() && !parser.done()) {
      const auto used = parser.put(buffer, ec);
      for (auto piece : parser.body_pieces())
        out.body.append(piece.substr(0, kKeep - std::min(kKeep, out.body.size())));
      parser.body_pieces().clear();
      buffer.erase(0, used);
      if (ec || used == 0) break;
    }
    if (ec && ec != boost::beast::http::error::need_more) break;
    ec = {};
  }
  if (parser.head_done()) out.status = parser.head().status;
  if (!parser.head_done())
    out.error = ec ? "not an HTTP answer: " + ec.message() : "the server closed without answering";
}

}  // namespace

Resolved resolve(const std::string& host) {
  Resolved out;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list); rc != 0) {
    out.error = gai_strerror(rc);
    return out;
  }
  for (auto* a = list; a; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST))
      continue;
    if (std::find(out.addresses.begin(), out.addresses.end(), text) == out.addresses.end())
      out.addresses.emplace_back(text);
  }
  freeaddrinfo(list);
  return out;
}

VersionProbe probe_version(const std::string& host, const std::string& port,
                           const std::string& version) {
  VersionProbe out{version, false, {}};
  const int v = version == "1.0"   ? TLS1_VERSION
                : version == "1.1" ? TLS1_1_VERSION
                : version == "1.2" ? TLS1_2_VERSION
                                   : TLS1_3_VERSION;
  auto ctx = client_context();
  SSL_CTX_set_min_proto_version(ctx.get(), v);
  SSL_CTX_set_max_proto_version(ctx.get(), v);
  // OpenSSL 3 offers TLS 1.0/1.1 only at security level 0: without it the probe would refuse
  // itself and could never see a server that still accepts them.
  if (v < TLS1_2_VERSION) {
    SSL_CTX_set_security_level(ctx.get(), 0);
    SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
  }
  Connection c;
  if (auto err = c.connect(host, port); !err.empty()) {
    out.detail = err;
    return out;
  }
  auto err = c.start_tls(ctx.get(), host);
  out.accepted = err.empty();
  out.detail = out.accepted ? SSL_get_cipher_name(c.ssl()) : err;
  return out;
}

Handshake handshake(const std::string& host, const std::string& port, const std::string& cacert) {
  Handshake out;
  auto ctx = client_context();
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  set_alpn(ctx.get(), true);
  if (cacert.empty()) {
    tls::use_system_trust(SSL_CTX_get_cert_store(ctx.get()));
    out.chain.trust = "the system store";
  } else {
    SSL_CTX_load_verify_locations(ctx.get(), cacert.c_str(), nullptr);
    out.chain.trust = "--cacert " + cacert;
  }
  Connection c;
  out.error = c.connect(host, port);
  if (out.error.empty()) out.error = c.start_tls(ctx.get(), host);
  if (!out.error.empty()) return out;
  out.version = SSL_get_version(c.ssl());
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(c.ssl(), &alpn, &alpn_len);
  out.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  const long verify = SSL_get_verify_result(c.ssl());
  out.chain.verified = verify == X509_V_OK;
  out.chain.verify_error = tls::verify_error_text(verify);
  tls::X509Ptr leaf(SSL_get1_peer_certificate(c.ssl()));
  if (!leaf) {
    out.error = "the server sent no certificate";
    return out;
  }
  out.name_covered = tls::covers_name(leaf.get(), host);
  out.covered_names = tls::covered_names(leaf.get());
  out.not_before = tls::asn1_time_to_time_t(X509_get0_notBefore(leaf.get()));
  out.not_after = tls::asn1_time_to_time_t(X509_get0_notAfter(leaf.get()));
  out.fingerprint = sha256_fingerprint(tls::der_of(leaf.get()));
  return out;
}

HttpAnswer post(const std::string& host, const std::string& port, const std::string& path,
                const std::optional<std::string>& key) {
  HttpAnswer out;
  auto ctx = client_context();
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  set_alpn(ctx.get(), false);
  Connection c;
  out.error = c.connect(host, port);
  if (out.error.empty()) out.error = c.start_tls(ctx.get(), host);
  if (!out.error.empty()) return out;
  const auto request = request_text(host, port, path, key);
  if (SSL_write(c.ssl(), request.data(), static_cast<int>(request.size())) <= 0) {
    out.error = "the request could not be sent: " + tls::openssl_errors();
    return out;
  }
  read_answer(c.ssl(), out);
  return out;
}

}  // namespace scoregate::doctor
