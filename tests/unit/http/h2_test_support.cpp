#include "http/h2_test_support.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/error.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "http/awaitable.hpp"
#include "http/client_transport.hpp"
#include "http/http2_stream.hpp"

// GCC 12 misfires -Wmismatched-new-delete on Asio's coroutine frame allocator for the
// handler coroutine below (as it does under the sanitizers, see CMakeLists.txt).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace scoregate::http::test {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(nothrow);
}

asio::awaitable<std::string> read_all(ServerStream& s, error_code& ec) {
  std::string body;
  std::vector<std::string_view> pieces;
  for (;;) {
    ec = co_await s.read_body(pieces);
    if (ec || pieces.empty()) break;
    for (auto p : pieces) body.append(p);
  }
  co_return body;
}

// GCC 12 cannot put an initializer list's array in a coroutine frame ("array used as
// initializer"): the handler's field lists are built here, outside the coroutine.
ResponseStart ok_with(OutFields fields) {
  ResponseStart r;
  r.fields = std::move(fields);
  return r;
}
ResponseStart echo_start(const std::string& method, const std::string& host,
                         const std::string& version, const std::string& framing, bool known) {
  return ok_with({{"x-method", method},
                  {"x-host", host},
                  {"x-version", version},
                  {"x-framing", framing},
                  {"x-verb-known", known ? "1" : "0"}});
}
ResponseStart grpc_start() { return ok_with({{"content-type", "application/grpc"}}); }
ResponseStart fields_start() {
  return ok_with({{"X-Custom", "A"},
                  {"Connection", "close"},
                  {"Transfer-Encoding", "chunked"},
                  {"Upgrade", "x"}});
}
OutFields grpc_ok() { return {{"grpc-status", "0"}, {"Grpc-Message", "ok"}}; }
OutFields grpc_unavailable() { return {{"grpc-status", "14"}, {"grpc-message", "unavailable"}}; }
ServerStream::Extra retry_after() { return {{"Retry-After", "1"}}; }

const char* framing_name(BodyFraming f) {
  switch (f) {
    case BodyFraming::none:
      return "none";
    case BodyFraming::content_length:
      return "content_length";
    case BodyFraming::chunked:
      return "chunked";
    default:
      return "other";
  }
}

}  // namespace

asio::awaitable<void> ScriptedHandler::handle(ServerStream& s) {
  ++started;
  const RequestHead& h = s.request();
  std::string path(h.target);
  error_code ec;
  if (path == "/echo") {
    std::string method(h.method_text), host(h.find(bhttp::field::host));
    std::string version = std::to_string(h.version), framing = framing_name(h.framing);
    std::string body = co_await read_all(s, ec);
    bool known = h.method != bhttp::verb::unknown;
    co_await s.start_response(echo_start(method, host, version, framing, known));
    co_await s.write_body(body, true);
  } else if (path == "/limit") {
    co_await read_all(s, ec);
    if (ec == bhttp::error::body_limit)
      co_await s.reply_error(413, "RequestBodyTooLarge", "too big", {}, "router.max_body_bytes");
    else
      co_await s.reply_error(500, "Unexpected", ec.message());
  } else if (path == "/read") {
    co_await read_all(s, ec);
    if (ec == boost::asio::error::operation_aborted && s.timed_out())
      co_await s.reply_error(408, "ClientBodyTimeout", "body too slow");
    else
      co_await s.reply_error(500, "Unexpected", ec.message());
  } else if (path == "/trailers") {
    co_await read_all(s, ec);
    co_await s.start_response(grpc_start());
    co_await s.write_body("hello");
    auto trailers = grpc_ok();
    co_await s.end_response(trailers);
  } else if (path == "/trailers-only") {
    co_await s.start_response(grpc_start());
    auto trailers = grpc_unavailable();
    co_await s.end_response(trailers);
  } else if (path == "/error") {
    co_await s.reply_error(503, "NoReadyInstance", "no instance", retry_after());
  } else if (path == "/fields") {
    co_await s.start_response(fields_start());
    co_await s.end_response();
  } else if (path == "/hold") {
    for (int i = 0; i < 500 && !release && !s.client_gone(); ++i) co_await sleep_for(10ms);
    if (s.client_gone()) {
      ++gone_seen;
    } else {
      co_await s.start_response(ResponseStart{});
      co_await s.write_body("held", true);
    }
  } else if (path == "/big") {
    co_await s.start_response(ResponseStart{});
    std::string chunk(16 * 1024, 'b');
    for (std::size_t sent = 0; sent < big_bytes; sent += chunk.size()) {
      ec = co_await s.write_body(chunk);
      auto& st = static_cast<H2ServerStream&>(s).state();
      if (st.queued() > max_queued) max_queued = st.queued();
      if (ec) break;
    }
    if (ec && s.timed_out()) ++write_timeouts;
    if (!ec) co_await s.end_response();
  }
  ++finished;
}

TestServer::TestServer(ServerLimits limits, SSL_CTX* tls, std::size_t pre_read)
    : limits_(limits),
      tls_(tls),
      pre_read_(pre_read),
      acceptor_(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
  port_ = acceptor_.local_endpoint().port();
  asio::co_spawn(io_, serve(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

TestServer::~TestServer() {
  wait_finished(10s);
  io_.stop();
  thread_.join();
}

asio::awaitable<void> TestServer::serve() {
  auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
  if (ec) co_return;
  SSL* ssl = tls_ ? SSL_new(tls_) : nullptr;  // owned by the transport
  ClientTransport transport(std::move(socket), ssl);
  if (tls_) {
    if (co_await transport.handshake()) co_return;
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    alpn_h2 = std::string_view(reinterpret_cast<const char*>(proto), len) == "h2";
  }
  std::string first(pre_read_, '\0');  // what a protocol sniffer would have read already
  for (std::size_t got = 0; got < first.size();) {
    auto r = co_await transport.read_some(first.data() + got, first.size() - got);
    if (r.ec) co_return;
    got += r.bytes;
  }
  preface_seen = !first.empty() && is_h2_preface_prefix(first);
  Http2Session session(transport, limits_, handler, "127.0.0.1", first);
  session_ = &session;
  co_await session.run();
  session_ = nullptr;
  finished_ = true;
}

void TestServer::drain() {
  asio::post(io_, [this] {
    if (session_) session_->begin_drain();
  });
}

void TestServer::new_generation() {
  asio::post(io_, [this] {
    if (session_) session_->on_new_generation();
  });
}

bool TestServer::wait_finished(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!finished_ && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
  return finished_;
}

int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::string Response::field(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return {};
}

std::string frame(std::uint8_t type, std::uint8_t flags, std::uint32_t stream,
                  std::string_view payload) {
  std::string f;
  auto n = payload.size();
  f += static_cast<char>(n >> 16);
  f += static_cast<char>(n >> 8);
  f += static_cast<char>(n);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift = 24; shift >= 0; shift -= 8) f += static_cast<char>(stream >> shift);
  f.append(payload);
  return f;
}

RawClient::RawClient(std::uint16_t port) : fd_(connect_loopback(port)) {
  timeval tv{10, 0};  // a send that blocks this long fails the test instead of hanging it
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}
RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool RawClient::read_until_closed(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      parse();
      return true;
    }
    in_.append(buf, static_cast<std::size_t>(n));
  }
}

void RawClient::parse() {
  std::string_view v(in_);
  while (v.size() >= 9) {
    auto u = [&](std::size_t i) { return static_cast<std::uint8_t>(v[i]); };
    std::size_t len = (u(0) << 16) | (u(1) << 8) | u(2);
    if (v.size() < 9 + len) break;
    if (u(3) == NGHTTP2_GOAWAY && len >= 8)
      goaway_error = (u(13) << 24) | (u(14) << 16) | (u(15) << 8) | u(16);
    v.remove_prefix(9 + len);
  }
}

}  // namespace scoregate::http::test
