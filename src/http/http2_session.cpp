#include "http/http2_session.hpp"

#include <boost/asio/co_spawn.hpp>

#include <exception>

#include "http/awaitable.hpp"
#include "http/http2_stream.hpp"

namespace scoregate::http {

namespace asio = boost::asio;

namespace {
constexpr std::size_t kReadSize = 16 * 1024;
constexpr std::size_t kWriteChunk = 64 * 1024;  // frames coalesced into one write
// After our GOAWAY, how long a client may keep the connection before we close it.
constexpr std::chrono::seconds kGoawayGrace{2};
// Between the shutdown notice and the real GOAWAY of a reload: well over a round trip, so a
// request already on the wire when the notice left is counted in the last stream id.
constexpr std::chrono::milliseconds kNoticeToGoaway{1000};
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
}  // namespace

bool is_h2_preface_prefix(std::string_view bytes) {
  auto n = std::min(bytes.size(), kPreface.size());
  return bytes.substr(0, n) == kPreface.substr(0, n);
}

Http2Session::Http2Session(ClientTransport& transport, const ServerLimits& limits,
                           StreamHandler& handler, std::string peer_address,
                           std::string_view already_read)
    : transport_(transport),
      limits_(limits),
      handler_(handler),
      peer_(std::move(peer_address)),
      pending_in_(already_read),
      core_(limits_, *this),
      writer_event_(transport.socket().get_executor()),
      done_event_(transport.socket().get_executor()),
      watchdog_(transport.socket().get_executor(), [this] { on_watchdog(); }),
      notice_timer_(transport.socket().get_executor()) {}

Http2Session::~Http2Session() { *alive_ = false; }

asio::awaitable<void> Http2Session::run() {
  auto ex = transport_.socket().get_executor();
  watchdog_.arm(limits_.header_timeout);  // the first request must come within it
  writer_running_ = true;
  asio::co_spawn(ex, writer(), [this](const std::exception_ptr&) {
    writer_running_ = false;
    done_event_.cancel();
  });
  co_await reader();
  closing_ = true;
  notice_timer_.cancel();
  wake_writer();
  // The writer flushes what is queued (our GOAWAY among it), but a client that reads nothing
  // (a ping or SETTINGS flood's answers fill the socket buffers) must not keep the connection
  // until the next watchdog deadline: after kGoawayGrace, on_watchdog() cancels the socket.
  if (writer_running_) watchdog_.arm(kGoawayGrace);
  while (writer_running_) {
    done_event_.expires_at(asio::steady_timer::time_point::max());
    co_await done_event_.async_wait(nothrow);
  }
  core_.shut();  // streams still running see client_gone()
  while (in_flight_ > 0) {
    done_event_.expires_at(asio::steady_timer::time_point::max());
    co_await done_event_.async_wait(nothrow);
  }
  read_buffer_.reset();
  std::string().swap(out_);
  if (core_.goaway_sent() && !watchdog_.expired()) {
    // Our GOAWAY must not be destroyed by a RST for bytes the client sent meanwhile.
    lingering_ = true;
    watchdog_.arm(kGoawayGrace);
    co_await transport_.lingering_close(256 * 1024);
  } else {
    transport_.close();
  }
  watchdog_.disarm();
}

asio::awaitable<void> Http2Session::reader() {
  if (!pending_in_.empty()) {
    bool ok = core_.receive(pending_in_);
    std::string().swap(pending_in_);
    wake_writer();
    if (!ok) co_return;
  }
  while (!closing_ && !core_.over()) {
    if (!read_buffer_) {
      // Wait without holding a buffer: an idle connection keeps none.
      if (co_await transport_.wait_readable() || closing_) break;
      read_buffer_ = std::make_unique<char[]>(kReadSize);
    }
    auto r = co_await transport_.read_some(read_buffer_.get(), kReadSize);
    if (r.ec) break;
    bool ok = core_.receive({read_buffer_.get(), r.bytes});
    wake_writer();
    if (!ok) break;  // fatal (a flood, a bad preface): close without further ado
    if (in_flight_ == 0) read_buffer_.reset();
  }
}

// The only writer: drains the core's frames into one buffer per write.
asio::awaitable<void> Http2Session::writer() {
  for (;;) {
    if (!core_.produce(out_, kWriteChunk)) break;
    if (out_.empty()) {
      if (closing_ || core_.over()) break;
      writer_event_.expires_at(asio::steady_timer::time_point::max());
      co_await writer_event_.async_wait(nothrow);
      continue;
    }
    auto ec = co_await transport_.write_all(out_);
    out_.clear();
    if (ec) break;
    if (in_flight_ == 0 && out_.capacity() > 4096) std::string().swap(out_);
  }
  closing_ = true;
  transport_.cancel();  // ends the reader's wait
}

void Http2Session::wake_writer() { writer_event_.cancel(); }

void Http2Session::on_request(H2Stream& s) {
  auto* stream = new H2ServerStream(*this, s);
  s.user = stream;
  if (in_flight_++ == 0) watchdog_.disarm();
  asio::co_spawn(transport_.socket().get_executor(), handler_.handle(*stream),
                 [this, stream](const std::exception_ptr&) { stream_finished(stream); });
}

void Http2Session::stream_finished(H2ServerStream* stream) {
  H2Stream& s = stream->state();
  s.user = nullptr;
  core_.handler_done(s);  // may free s
  delete stream;
  --in_flight_;
  wake_writer();
  done_event_.cancel();
  if (in_flight_ > 0 || closing_ || idle_goaway_) return;
  if (core_.goaway_sent()) {  // draining: the last stream is done, the client gets the grace
    idle_goaway_ = true;
    watchdog_.arm(kGoawayGrace);
  } else {
    watchdog_.arm(limits_.keepalive_timeout);
  }
}

void Http2Session::on_stream_event(H2Stream& s) {
  if (s.user) static_cast<H2ServerStream*>(s.user)->wake();
  wake_writer();
}

void Http2Session::begin_drain() {
  core_.drain();
  wake_writer();
  if (in_flight_ == 0) {
    idle_goaway_ = true;
    watchdog_.arm(kGoawayGrace);
  }
}

void Http2Session::on_new_generation() {
  if (closing_ || idle_goaway_ || !core_.shutdown_notice()) return;
  wake_writer();
  notice_timer_.expires_after(kNoticeToGoaway);
  notice_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive || closing_) return;
    begin_drain();
  });
}

void Http2Session::on_watchdog() {
  if (lingering_ || closing_ || idle_goaway_) {
    // The client did not close after our GOAWAY (or during the lingering close): stop.
    closing_ = true;
    transport_.cancel();
    return;
  }
  if (in_flight_ > 0) return;
  idle_goaway_ = true;  // idle for keepalive_timeout (or no request within header_timeout)
  core_.drain();
  wake_writer();
  watchdog_.arm(kGoawayGrace);
}

}  // namespace scoregate::http
