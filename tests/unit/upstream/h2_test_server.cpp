// The HTTP/2 test server (h2_test_server.hpp): blocking sockets, poll() with a short timeout
// so delayed answers and stop() are noticed, an nghttp2 server session per connection.
#include "upstream/h2_test_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

namespace scoregate::upstream::testing {

namespace {

using steady = std::chrono::steady_clock;

struct Request {
  std::string path, body, reply;
  std::size_t off = 0;
  bool trailers = false;
};

struct Conn {
  H2TestServer* server = nullptr;
  nghttp2_session* session = nullptr;
  int fd = -1;
  SSL* ssl = nullptr;
  std::map<std::int32_t, Request> requests;
  int open = 0;
  std::vector<std::pair<steady::time_point, std::int32_t>> due;
};

nghttp2_nv nv(const std::string& n, const std::string& v) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
          NGHTTP2_NV_FLAG_NONE};
}

ssize_t read_reply(nghttp2_session* session, std::int32_t id, std::uint8_t* buf, std::size_t length,
                   std::uint32_t* flags, nghttp2_data_source* source, void* ud) {
  auto* r = static_cast<Request*>(source->ptr);
  std::size_t n = std::min(length, r->reply.size() - r->off);
  std::memcpy(buf, r->reply.data() + r->off, n);
  r->off += n;
  if (r->off == r->reply.size()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (r->trailers) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::string a = "grpc-status", av = "0", b = "grpc-message", bv = "fine";
      nghttp2_nv t[] = {nv(a, av), nv(b, bv)};
      nghttp2_submit_trailer(session, id, t, 2);
    }
    static_cast<Conn*>(ud)->server->note_completed();
  }
  return static_cast<ssize_t>(n);
}

void respond(Conn& c, std::int32_t id, const std::string& status, std::string body,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
  auto& r = c.requests[id];
  r.reply = std::move(body);
  std::string st = ":status";
  std::vector<nghttp2_nv> nva{nv(st, status)};
  for (auto& [n, v] : headers) nva.push_back(nv(n, v));
  nghttp2_data_provider prd{};
  prd.source.ptr = &r;
  prd.read_callback = read_reply;
  nghttp2_submit_response(c.session, id, nva.data(), nva.size(), &prd);
}

void request_ended(Conn& c, std::int32_t id) {
  auto& r = c.requests[id];
  const std::string& p = r.path;
  if (p == "/hello") {
    std::string st = ":status", v = "103";
    nghttp2_nv interim[] = {nv(st, v)};
    nghttp2_submit_headers(c.session, NGHTTP2_FLAG_NONE, id, nullptr, interim, 1, nullptr);
    respond(c, id, "200", "hello", {{"x-test", "yes"}});
  } else if (p == "/empty") {
    std::string st = ":status", v = "204";
    nghttp2_nv h[] = {nv(st, v)};
    nghttp2_submit_response(c.session, id, h, 1, nullptr);
    c.server->note_completed();
  } else if (p == "/echo") {
    respond(c, id, "200", r.body, {{"x-got", std::to_string(r.body.size())}});
  } else if (p.rfind("/big?n=", 0) == 0) {
    respond(c, id, "200", std::string(std::stoul(p.substr(7)), 'x'));
  } else if (p == "/hugehead") {
    respond(c, id, "200", "", {{"x-big", std::string(40000, 'h')}});
  } else if (p == "/trailers") {
    r.trailers = true;
    respond(c, id, "200", "abc");
  } else if (p.rfind("/hold?ms=", 0) == 0) {
    long ms = std::stol(p.substr(9));
    if (ms >= 0) c.due.emplace_back(steady::now() + std::chrono::milliseconds(ms), id);
  } else if (p != "/rst" && p != "/refuse" && p != "/goaway") {
    respond(c, id, "404", "");
  }
}

int on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* ud) {
  auto& c = *static_cast<Conn*>(ud);
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
    c.requests[f->hd.stream_id] = {};
    c.server->note_open(++c.open);
  }
  return 0;
}

int on_header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name, std::size_t nl,
              const std::uint8_t* value, std::size_t vl, std::uint8_t, void* ud) {
  auto& c = *static_cast<Conn*>(ud);
  if (std::string_view(reinterpret_cast<const char*>(name), nl) == ":path")
    c.requests[f->hd.stream_id].path.assign(reinterpret_cast<const char*>(value), vl);
  return 0;
}

int on_frame_recv(nghttp2_session* s, const nghttp2_frame* f, void* ud) {
  auto& c = *static_cast<Conn*>(ud);
  std::int32_t id = f->hd.stream_id;
  if (f->hd.type == NGHTTP2_RST_STREAM) {
    c.server->note_close(f->rst_stream.error_code, true);
    return 0;
  }
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST) {
    const std::string& p = c.requests[id].path;
    if (p == "/rst") return nghttp2_submit_rst_stream(s, 0, id, NGHTTP2_INTERNAL_ERROR);
    if (p == "/refuse") return nghttp2_submit_rst_stream(s, 0, id, NGHTTP2_REFUSED_STREAM);
    if (p == "/goaway") return nghttp2_submit_goaway(s, 0, id - 2, NGHTTP2_NO_ERROR, nullptr, 0);
  }
  if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    request_ended(c, id);
  return 0;
}

int on_data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d, std::size_t n,
            void* ud) {
  static_cast<Conn*>(ud)->requests[id].body.append(reinterpret_cast<const char*>(d), n);
  return 0;
}

int on_stream_close(nghttp2_session*, std::int32_t id, std::uint32_t, void* ud) {
  auto& c = *static_cast<Conn*>(ud);
  if (c.requests.erase(id)) {
    --c.open;
    c.server->note_close(0, false);
  }
  return 0;
}

bool write_all(Conn& c, const std::uint8_t* data, std::size_t n) {
  while (n > 0) {
    ssize_t w =
        c.ssl ? SSL_write(c.ssl, data, static_cast<int>(n)) : ::send(c.fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// One round: send what nghttp2 has, answer what is due, read what came.
bool step(Conn& c) {
  for (;;) {
    const std::uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(c.session, &data);
    if (n < 0) return false;
    if (n == 0) break;
    if (!write_all(c, data, static_cast<std::size_t>(n))) return false;
  }
  auto now = steady::now();
  for (auto it = c.due.begin(); it != c.due.end();) {
    if (it->first > now) {
      ++it;
      continue;
    }
    if (c.requests.count(it->second)) respond(c, it->second, "200", "held");
    it = c.due.erase(it);
  }
  if (!nghttp2_session_want_read(c.session) && !nghttp2_session_want_write(c.session)) return false;
  if (!(c.ssl && SSL_pending(c.ssl) > 0)) {
    pollfd p{c.fd, POLLIN, 0};
    if (::poll(&p, 1, 5) <= 0) return true;
  }
  std::uint8_t buf[16384];
  ssize_t got = c.ssl ? SSL_read(c.ssl, buf, sizeof buf) : ::recv(c.fd, buf, sizeof buf, 0);
  if (got <= 0) return false;
  return nghttp2_session_mem_recv(c.session, buf, static_cast<std::size_t>(got)) >= 0;
}

}  // namespace

H2TestServer::H2TestServer(H2ServerOptions options) : options_(options) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("test server: cannot listen");
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

H2TestServer::~H2TestServer() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  for (auto& t : threads_) t.join();
}

void H2TestServer::accept_loop() {
  while (!stop_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    ++connections_;
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void H2TestServer::serve(int fd) {
  Conn c;
  c.server = this;
  c.fd = fd;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options_.tls) {
    c.ssl = SSL_new(options_.tls);
    SSL_set_fd(c.ssl, fd);
    if (SSL_accept(c.ssl) != 1) {
      ERR_clear_error();
      SSL_free(c.ssl);
      ::close(fd);
      return;
    }
  }
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_server_new(&c.session, cbs, &c);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams}};
  nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, iv, 1);
  while (!stop_ && step(c)) {
  }
  nghttp2_session_del(c.session);
  in_flight_ -= c.open;
  if (c.ssl) {
    ERR_clear_error();
    SSL_free(c.ssl);
  }
  ::close(fd);
}

void H2TestServer::note_open(int on_connection) {
  ++in_flight_;
  int seen = max_in_flight_.load();
  while (on_connection > seen && !max_in_flight_.compare_exchange_weak(seen, on_connection)) {
  }
}

void H2TestServer::note_close(std::uint32_t code, bool client_reset) {
  if (client_reset) {
    std::lock_guard lock(mutex_);
    resets_.push_back(code);
    return;
  }
  --in_flight_;
}

std::vector<std::uint32_t> H2TestServer::resets_received() const {
  std::lock_guard lock(mutex_);
  return resets_;
}

namespace {
int select_h2(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
              unsigned int inlen, void*) {
  static const unsigned char h2[] = {2, 'h', '2'};
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, h2, sizeof h2, in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}
}  // namespace

SSL_CTX* make_server_tls(const std::string& chain_pem, const std::string& key_pem, bool alpn_h2) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  BIO* bio = BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size()));
  X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr))
    SSL_CTX_add_extra_chain_cert(ctx, extra);  // takes ownership
  BIO_free(bio);
  ERR_clear_error();
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (alpn_h2) SSL_CTX_set_alpn_select_cb(ctx, select_h2, nullptr);
  return ctx;
}

}  // namespace scoregate::upstream::testing
