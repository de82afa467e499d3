// One HTTP/2 connection to a model (upstream/h2_connection.hpp): connect, the nghttp2 client
// session, and the two coroutines that move its bytes. The reader feeds what the socket
// gives to nghttp2_session_mem_recv; the writer drains nghttp2_session_mem_send into
// coalesced writes and sleeps on `writer_event_` (a timer used as an event) when there is
// nothing to send. Either ends the connection when the socket or the session does.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <openssl/err.h>

#include "http/awaitable.hpp"
#include "tls/compat.hpp"
#include "upstream/h2_connection.hpp"

namespace scoregate::upstream {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
constexpr std::size_t kReadBuffer = 16 * 1024;
constexpr std::size_t kCoalesce = 64 * 1024;  // bytes gathered into one write at most
// The model's SETTINGS_MAX_CONCURRENT_STREAMS before its SETTINGS arrive (nghttp2's own
// default for outgoing streams is the same).
constexpr std::uint32_t kAssumedMaxStreams = 100;
}  // namespace

H2Connection::H2Connection(const asio::any_io_executor& ex, TargetPtr target, H2Mode mode,
                           const H2PoolLimits& limits)
    : ex_(ex),
      target_(std::move(target)),
      mode_(mode),
      limits_(limits),
      writer_event_(ex),
      connected_event_(ex) {}

H2Connection::~H2Connection() {
  if (session_) nghttp2_session_del(session_);
}

asio::awaitable<error_code> H2Connection::connect(SSL_CTX* tls, std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  asio::ip::tcp::socket socket(ex_);
  error_code ec;
  socket.open(target_->endpoint.protocol(), ec);
  if (!ec && mode_ == H2Mode::h2) {
    ssl_ = tls ? SSL_new(tls) : nullptr;
    if (!ssl_ || !set_tls_peer_name(ssl_, target_->address)) {
      ERR_clear_error();
      if (ssl_) SSL_free(ssl_);
      ssl_ = nullptr;
      ec = asio::error::invalid_argument;
    }
  }
  if (ec) {
    fail(ec);
    co_return ec;
  }
  transport_ = std::make_unique<http::ClientTransport>(std::move(socket), ssl_);
  read_buf_.resize(kReadBuffer);
  // The deadline cancels whichever wait is pending; the flag tells a timeout from a refusal.
  asio::steady_timer deadline(ex_, timeout);
  deadline.async_wait([weak = weak_from_this()](error_code wec) {
    auto c = weak.lock();
    if (wec || !c || c->state_ != State::connecting) return;
    c->timed_out_ = true;
    c->transport_->cancel();
  });
  std::tie(ec) = co_await transport_->socket().async_connect(target_->endpoint, nothrow);
  if (!ec && !timed_out_ && ssl_) ec = co_await tls_handshake();
  if (!ec && !timed_out_) ec = start_session();
  if (!ec && !timed_out_) {
    asio::co_spawn(ex_, reader(self), asio::detached);
    asio::co_spawn(ex_, writer(self), asio::detached);
    // No stream goes out before the model's SETTINGS: its SETTINGS_MAX_CONCURRENT_STREAMS
    // may be below what we would send, and a peer that is not HTTP/2 fails here, as a
    // connect failure. The model sends SETTINGS first thing, so this costs at most a trip.
    while (!settings_received_ && state_ != State::dead) {
      connected_event_.expires_at(asio::steady_timer::time_point::max());
      co_await connected_event_.async_wait(nothrow);
    }
  }
  deadline.cancel();
  if (timed_out_)
    ec = asio::error::timed_out;
  else if (!ec && state_ == State::dead)
    ec = connect_ec_ ? connect_ec_ : make_error_code(h2_errc::connection_closed);
  if (ec) {
    fail(ec);
    connect_ec_ = ec;  // what waiting opens report (fail() may have run already)
    co_return ec;
  }
  state_ = State::ready;
  idle_since_ = Clock::now();
  connected_event_.cancel();
  co_return error_code{};
}

asio::awaitable<error_code> H2Connection::wait_connected() {
  auto self = shared_from_this();
  while (state_ == State::connecting) {
    connected_event_.expires_at(asio::steady_timer::time_point::max());
    co_await connected_event_.async_wait(nothrow);
  }
  if (state_ == State::dead)
    co_return connect_ec_ ? connect_ec_ : make_error_code(h2_errc::connection_closed);
  co_return error_code{};
}

error_code H2Connection::start_session() {
  nghttp2_session_callbacks* cbs = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0) return make_error_code(h2_errc::protocol_error);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  nghttp2_session_callbacks_set_on_frame_not_send_callback(cbs, on_frame_not_send);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_option* opt = nullptr;
  nghttp2_option_new(&opt);
  // Window updates follow what read_body hands out, so a slow reader holds the model back
  // instead of letting a stream's buffer grow past its window.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, kAssumedMaxStreams);
  int rv = nghttp2_session_client_new2(&session_, cbs, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cbs);
  if (rv != 0) return make_error_code(h2_errc::protocol_error);
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list},
  };
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  if (rv == 0)
    rv = nghttp2_session_set_local_window_size(
        session_, NGHTTP2_FLAG_NONE, 0, static_cast<std::int32_t>(limits_.connection_window));
  return rv == 0 ? error_code{} : make_error_code(h2_errc::protocol_error);
}

// `self` keeps the connection alive for as long as the coroutine runs.
asio::awaitable<void> H2Connection::reader(std::shared_ptr<H2Connection> self) {
  (void)self;
  while (state_ != State::dead) {
    auto r = co_await transport_->read_some(read_buf_.data(), read_buf_.size());
    if (state_ == State::dead) break;
    if (r.ec || r.bytes == 0) {
      fail(r.ec && r.ec != asio::error::eof ? r.ec : make_error_code(h2_errc::connection_closed));
      break;
    }
    auto rv = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const std::uint8_t*>(read_buf_.data()), r.bytes);
    if (rv < 0) {
      fail(make_error_code(h2_errc::protocol_error));
      break;
    }
    wake_writer();  // SETTINGS ACKs, PING replies, window updates, RST_STREAMs to send
  }
}

asio::awaitable<void> H2Connection::writer(std::shared_ptr<H2Connection> self) {
  (void)self;
  std::string out;
  while (state_ != State::dead) {
    out.clear();
    if (!gather(out)) {
      fail(make_error_code(h2_errc::protocol_error));
      break;
    }
    if (!out.empty()) {
      writing_ = true;
      error_code ec = co_await transport_->write_all(out);
      writing_ = false;
      if (state_ == State::dead) break;
      if (ec) {
        fail(ec);
        break;
      }
      continue;
    }
    // After GOAWAY (either way) with no stream left, nghttp2 wants nothing more.
    if (!nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
      fail(make_error_code(h2_errc::connection_closed));
      break;
    }
    writer_event_.expires_at(asio::steady_timer::time_point::max());
    co_await writer_event_.async_wait(nothrow);
  }
}

bool H2Connection::gather(std::string& out) {
  while (out.size() < kCoalesce) {
    const std::uint8_t* data = nullptr;
    auto n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return true;
}

// Ends the connection and every stream on it. A stream whose HEADERS never left is refused:
// the model cannot have processed it. One that was sent and got no complete response is not,
// as the model may have acted on it (also when refused was already set by GOAWAY or
// REFUSED_STREAM, which it keeps).
void H2Connection::fail(error_code ec) {
  if (state_ == State::dead) return;
  if (state_ == State::connecting) connect_ec_ = ec;
  state_ = State::dead;
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    if (!s->closed && !s->remote_end && !s->ec) {
      if (!s->headers_sent) s->refused = true;
      s->ec = s->refused ? make_error_code(h2_errc::stream_refused) : ec;
    }
    s->closed = true;
    s->unconsumed = 0;  // the window died with the connection
    s->wake();
  }
  if (transport_) transport_->close();
  writer_event_.cancel();
  connected_event_.cancel();
}

void H2Connection::close_gracefully() {
  if (state_ == State::ready && session_ && !writing_) {
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    std::string out;
    gather(out);
    // Best effort, without waiting: the socket buffer normally takes a GOAWAY frame.
    if (ssl_) {
      std::size_t written = 0;
      SSL_write_ex(ssl_, out.data(), out.size(), &written);
      ERR_clear_error();
    } else {
      error_code ec;
      transport_->socket().write_some(asio::buffer(out), ec);
    }
  }
  fail(make_error_code(h2_errc::connection_closed));
}

bool H2Connection::has_room() const {
  if (state_ == State::dead || goaway_) return false;
  std::uint32_t max = kAssumedMaxStreams;
  if (session_)
    max = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return load() < max;
}

bool H2Connection::idle_for_longer(Clock::time_point now, std::chrono::milliseconds limit) const {
  return state_ == State::ready && load() == 0 && now - idle_since_ > limit;
}

std::unique_ptr<H2Stream> H2Connection::submit(const H2RequestHead& head, error_code& ec) {
  if (state_ != State::ready) {
    ec = make_error_code(h2_errc::connection_closed);
    return nullptr;
  }
  auto s = std::make_shared<StreamState>(ex_);
  auto nv = [](std::string_view n, std::string_view v) {
    // NGHTTP2_NV_FLAG_NONE: nghttp2 copies name and value, so the head need not outlive us.
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(n.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(v.data())), n.size(),
                      v.size(), NGHTTP2_NV_FLAG_NONE};
  };
  std::vector<nghttp2_nv> nva;
  nva.reserve(4 + head.headers.size());
  nva.push_back(nv(":method", head.method));
  nva.push_back(nv(":scheme", head.scheme));
  nva.push_back(nv(":authority", head.authority));
  nva.push_back(nv(":path", head.path));
  for (const auto& h : head.headers) nva.push_back(nv(h.name, h.value));
  nghttp2_data_provider body{};
  body.source.ptr = s.get();
  body.read_callback = read_body_source;
  s->send_end = head.end_stream;
  std::int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                           head.end_stream ? nullptr : &body, s.get());
  if (id < 0) {
    ec = make_error_code(h2_errc::submit_failed);
    return nullptr;
  }
  s->id = id;
  streams_.emplace(id, s);
  wake_writer();
  return std::make_unique<H2StreamImpl>(weak_from_this(), std::move(s));
}

void H2Connection::consume(StreamState& s, std::size_t n) {
  if (n == 0) return;
  s.unconsumed -= std::min(n, s.unconsumed);
  if (state_ == State::dead) return;
  // Also right for a closed stream: nghttp2 then gives back the connection window only.
  nghttp2_session_consume(session_, s.id, n);
  wake_writer();
}

StreamState* H2Connection::stream_of(std::int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void H2Connection::forget(std::int32_t id) {
  streams_.erase(id);
  if (streams_.empty()) idle_since_ = Clock::now();
}

}  // namespace scoregate::upstream
