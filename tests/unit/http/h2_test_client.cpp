// The blocking nghttp2 client of the HTTP/2 session tests.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "http/h2_test_support.hpp"

namespace scoregate::http::test {

struct ClientCallbacks {
  static H2Client& c(void* u) { return *static_cast<H2Client*>(u); }

  static int header(nghttp2_session*, const nghttp2_frame* f, const std::uint8_t* name,
                    std::size_t nlen, const std::uint8_t* value, std::size_t vlen, std::uint8_t,
                    void* u) {
    Response& r = c(u).responses[f->hd.stream_id];
    std::string n(reinterpret_cast<const char*>(name), nlen);
    std::string v(reinterpret_cast<const char*>(value), vlen);
    if (n == ":status")
      r.status = std::stoi(v);
    else if (f->headers.cat == NGHTTP2_HCAT_HEADERS && r.header_frames > 0)
      r.trailers.emplace_back(n, v);
    else
      r.headers.emplace_back(n, v);
    return 0;
  }
  static int frame_recv(nghttp2_session*, const nghttp2_frame* f, void* u) {
    H2Client& cl = c(u);
    if (f->hd.type == NGHTTP2_HEADERS) ++cl.responses[f->hd.stream_id].header_frames;
    if (f->hd.type == NGHTTP2_DATA) ++cl.responses[f->hd.stream_id].data_frames;
    if (f->hd.type == NGHTTP2_GOAWAY) {
      cl.goaway = true;
      ++cl.goaways;
      cl.goaway_error = f->goaway.error_code;
      cl.goaway_last = f->goaway.last_stream_id;
    }
    return 0;
  }
  static int data(nghttp2_session*, std::uint8_t, std::int32_t id, const std::uint8_t* d,
                  std::size_t len, void* u) {
    c(u).responses[id].body.append(reinterpret_cast<const char*>(d), len);
    return 0;
  }
  static int close(nghttp2_session*, std::int32_t id, std::uint32_t error, void* u) {
    Response& r = c(u).responses[id];
    r.closed = true;
    r.error = error;
    return 0;
  }
  static ssize_t read_body(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len,
                           std::uint32_t* flags, nghttp2_data_source* src, void*) {
    auto* b = static_cast<H2Client::Body*>(src->ptr);
    if (b->stall) return NGHTTP2_ERR_DEFERRED;
    std::size_t n = std::min(len, b->bytes.size() - b->offset);
    std::memcpy(buf, b->bytes.data() + b->offset, n);
    b->offset += n;
    if (b->offset == b->bytes.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

H2Client::H2Client(std::uint16_t port, std::vector<nghttp2_settings_entry> settings)
    : fd_(connect_loopback(port)) {
  if (fd_ < 0) throw std::runtime_error("connect failed");
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_header_callback(cbs, ClientCallbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, ClientCallbacks::frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, ClientCallbacks::data);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, ClientCallbacks::close);
  nghttp2_session_client_new(&session, cbs, this);
  nghttp2_session_callbacks_del(cbs);
  nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
}

H2Client::~H2Client() {
  nghttp2_session_del(session);
  ::close(fd_);
}

std::int32_t H2Client::request(const std::string& method, const std::string& path,
                               std::optional<std::string> body, const Headers& extra) {
  // CONNECT carries only :method and :authority (RFC 9113 §8.5).
  Headers h = method == "CONNECT" ? Headers{{":method", method}, {":authority", "example.com:443"}}
                                  : Headers{{":method", method},
                                            {":scheme", "http"},
                                            {":path", path},
                                            {":authority", "example.com"}};
  for (const auto& e : extra) h.push_back(e);
  std::optional<Body> b;
  if (body) b = Body{std::move(*body), 0};
  return submit_with(h, std::move(b));
}

std::int32_t H2Client::submit(const Headers& fields) { return submit_with(fields, std::nullopt); }

std::int32_t H2Client::request_stalled(const std::string& path) {
  Body b;
  b.stall = true;
  return submit_with(
      {{":method", "POST"}, {":scheme", "http"}, {":path", path}, {":authority", "example.com"}},
      std::move(b));
}

std::int32_t H2Client::submit_with(Headers h, std::optional<Body> body) {
  std::vector<nghttp2_nv> nva;
  for (auto& [n, v] : h)
    nva.push_back({reinterpret_cast<std::uint8_t*>(n.data()),
                   reinterpret_cast<std::uint8_t*>(v.data()), n.size(), v.size(),
                   NGHTTP2_NV_FLAG_NONE});
  nghttp2_data_provider provider{};
  if (body) {
    bodies_.push_back(std::make_unique<Body>(std::move(*body)));
    provider.source.ptr = bodies_.back().get();
    provider.read_callback = ClientCallbacks::read_body;
  }
  auto id = nghttp2_submit_request(session, nullptr, nva.data(), nva.size(),
                                   body ? &provider : nullptr, nullptr);
  responses[id];
  return id;
}

void H2Client::reset(std::int32_t id, std::uint32_t code) {
  nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, code);
}

void H2Client::flush() {
  for (;;) {
    const std::uint8_t* data = nullptr;
    auto n = nghttp2_session_mem_send(session, &data);
    if (n <= 0) return;
    std::size_t off = 0;
    while (off < static_cast<std::size_t>(n)) {
      auto w = ::send(fd_, data + off, static_cast<std::size_t>(n) - off, MSG_NOSIGNAL);
      if (w <= 0) {
        eof = true;
        return;
      }
      off += static_cast<std::size_t>(w);
    }
  }
}

bool H2Client::pump(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    flush();
    if (done()) return true;
    if (eof) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 5))) <= 0) continue;
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof = true;
      return done();
    }
    if (nghttp2_session_mem_recv(session, reinterpret_cast<std::uint8_t*>(buf),
                                 static_cast<std::size_t>(n)) < 0) {
      eof = true;
      return done();
    }
  }
}

}  // namespace scoregate::http::test
