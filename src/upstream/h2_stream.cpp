// The streams of an HTTP/2 connection to a model (upstream/h2_connection.hpp): nghttp2's
// callbacks, which fill each StreamState and wake its waiters, and the H2Stream handle.
#include <algorithm>
#include <charconv>

#include "http/awaitable.hpp"
#include "upstream/h2_connection.hpp"

namespace scoregate::upstream {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
// write_body returns while at most this many bytes wait for the model's flow-control window.
constexpr std::size_t kMaxQueued = 64 * 1024;

H2Connection& conn_of(void* user_data) { return *static_cast<H2Connection*>(user_data); }
}  // namespace

int H2Connection::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  StreamState* s = conn_of(ud).stream_of(frame->hd.stream_id);
  if (!s) return 0;
  s->building = {};
  s->header_bytes = 0;
  s->in_trailers = s->head_ready;  // a HEADERS after the final head carries trailers
  return 0;
}

int H2Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                            std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                            std::uint8_t, void* ud) {
  H2Connection& c = conn_of(ud);
  StreamState* s = c.stream_of(frame->hd.stream_id);
  if (!s) return 0;
  // RFC 9113 §6.5.2 counts each field as name + value + 32.
  s->header_bytes += namelen + valuelen + 32;
  if (s->header_bytes > c.limits_.max_header_list) {
    s->ec = make_error_code(h2_errc::header_too_large);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets this stream only
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (s->in_trailers) {
    if (!n.starts_with(':')) s->trailers.push_back({std::string(n), std::string(v)});
    return 0;
  }
  if (n == ":status") {
    // nghttp2 has checked it is three digits (its HTTP messaging checks are on).
    std::from_chars(v.data(), v.data() + v.size(), s->building.status);
  } else if (!n.starts_with(':')) {
    s->building.headers.push_back({std::string(n), std::string(v)});
  }
  return 0;
}

void H2Connection::on_headers_done(StreamState& s, const nghttp2_frame* frame) {
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (s.in_trailers) {
    if (end) s.remote_end = true;
  } else if (s.building.status >= 100 && s.building.status < 200) {
    s.building = {};  // an interim response: the final head follows
    return;
  } else {
    s.head = std::move(s.building);
    s.head.end_stream = end;
    s.head_ready = true;
    if (end) s.remote_end = true;
  }
  s.wake();
}

void H2Connection::on_goaway(const nghttp2_goaway& g) {
  goaway_ = true;
  // Streams above last_stream_id were not processed (RFC 9113 §6.8); nghttp2 closes them.
  for (auto& [id, s] : streams_)
    if (id > g.last_stream_id) s->refused = true;
}

int H2Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  H2Connection& c = conn_of(ud);
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    c.on_goaway(frame->goaway);
    return 0;
  }
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    c.settings_received_ = true;
    c.connected_event_.cancel();  // connect() waits for it
    return 0;
  }
  StreamState* s = c.stream_of(frame->hd.stream_id);
  if (!s) return 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      c.on_headers_done(*s, frame);
      break;
    case NGHTTP2_DATA:
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        s->remote_end = true;
        s->wake();
      }
      break;
    case NGHTTP2_RST_STREAM:
      s->reset_code = frame->rst_stream.error_code;
      if (s->reset_code == NGHTTP2_REFUSED_STREAM) s->refused = true;
      break;
    default:
      break;
  }
  return 0;
}

int H2Connection::on_data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t stream_id,
                                const std::uint8_t* data, std::size_t len, void* ud) {
  StreamState* s = conn_of(ud).stream_of(stream_id);
  if (!s || s->cancelled) {
    nghttp2_session_consume(session, stream_id, len);  // nobody will read it
    return 0;
  }
  s->body.append(reinterpret_cast<const char*>(data), len);
  s->unconsumed += len;
  s->wake();
  return 0;
}

int H2Connection::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* ud) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (StreamState* s = conn_of(ud).stream_of(frame->hd.stream_id)) s->headers_sent = true;
  return 0;
}

// A request HEADERS nghttp2 dropped before sending (GOAWAY came, or we reset the stream
// while it waited for the model's concurrency limit): the model never saw the request.
int H2Connection::on_frame_not_send(nghttp2_session*, const nghttp2_frame* frame, int, void* ud) {
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  H2Connection& c = conn_of(ud);
  StreamState* s = c.stream_of(frame->hd.stream_id);
  if (!s) return 0;
  s->refused = true;
  if (!s->ec) s->ec = make_error_code(h2_errc::stream_refused);
  s->closed = true;
  s->wake();
  c.forget(frame->hd.stream_id);
  return 0;
}

int H2Connection::on_stream_close(nghttp2_session* session, std::int32_t stream_id,
                                  std::uint32_t error_code, void* ud) {
  H2Connection& c = conn_of(ud);
  StreamState* s = c.stream_of(stream_id);
  if (!s) return 0;
  s->closed = true;
  if (!s->remote_end && !s->ec) {
    if (error_code == NGHTTP2_REFUSED_STREAM) {
      s->refused = true;  // a RST_STREAM REFUSED_STREAM, or above GOAWAY's last-stream-id
      s->ec = make_error_code(h2_errc::stream_refused);
    } else if (s->reset_code != 0 || error_code == NGHTTP2_NO_ERROR) {
      s->ec = make_error_code(h2_errc::stream_reset);
    } else {
      s->ec = make_error_code(h2_errc::protocol_error);  // nghttp2 reset it: bad frames
    }
  }
  if (s->cancelled && s->unconsumed > 0) {
    nghttp2_session_consume_connection(session, s->unconsumed);
    s->unconsumed = 0;
  }
  s->wake();
  c.forget(stream_id);
  return 0;
}

ssize_t H2Connection::read_body_source(nghttp2_session*, std::int32_t, std::uint8_t* buf,
                                       std::size_t length, std::uint32_t* data_flags,
                                       nghttp2_data_source* source, void*) {
  auto* s = static_cast<StreamState*>(source->ptr);
  std::size_t n = std::min(length, s->queued());
  std::copy_n(s->send_buf.data() + s->send_off, n, buf);
  s->send_off += n;
  if (s->send_off == s->send_buf.size()) {
    s->send_buf.clear();
    s->send_off = 0;
  }
  if (s->queued() == 0 && s->send_end && !s->cancelled) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;  // END_STREAM on this DATA frame (maybe empty)
  } else if (n == 0) {
    s->deferred = true;  // write_body resumes it
    return NGHTTP2_ERR_DEFERRED;
  }
  if (n > 0) s->wake();  // room in the queue for a waiting write_body
  return static_cast<ssize_t>(n);
}

H2StreamImpl::~H2StreamImpl() { cancel(); }

asio::awaitable<void> H2StreamImpl::wait() {
  s_->event.expires_at(asio::steady_timer::time_point::max());
  co_await s_->event.async_wait(nothrow);
}

error_code H2StreamImpl::failure() const {
  if (s_->cancelled) return asio::error::operation_aborted;
  if (s_->ec) return s_->ec;
  if (s_->closed && !s_->remote_end) return make_error_code(h2_errc::connection_closed);
  return {};
}

asio::awaitable<error_code> H2StreamImpl::write_body(std::string_view data, bool end_stream) {
  if (s_->cancelled) co_return asio::error::operation_aborted;
  if (s_->send_end || s_->closed)
    co_return s_->ec ? s_->ec : make_error_code(h2_errc::stream_ended);
  auto c = conn_.lock();
  if (!c || c->dead()) co_return make_error_code(h2_errc::connection_closed);
  s_->send_buf.append(data);
  s_->send_end = end_stream;
  if (s_->deferred) {
    s_->deferred = false;
    nghttp2_session_resume_data(c->session(), s_->id);
  }
  c->wake_writer();
  c.reset();  // a waiting stream must not keep a dead connection alive
  while (s_->queued() > kMaxQueued) {
    if (error_code ec = failure()) co_return ec;
    if (s_->closed) co_return make_error_code(h2_errc::stream_ended);  // the model is done
    co_await wait();
  }
  co_return error_code{};
}

asio::awaitable<error_code> H2StreamImpl::read_head(H2ResponseHead& out) {
  for (;;) {
    if (s_->cancelled) co_return asio::error::operation_aborted;
    if (s_->head_ready) {
      out = s_->head;
      co_return error_code{};
    }
    if (error_code ec = failure()) co_return ec;
    co_await wait();
  }
}

asio::awaitable<error_code> H2StreamImpl::read_body(std::string& out, bool& end) {
  end = false;
  for (;;) {
    if (error_code ec = failure()) co_return ec;
    if (!s_->body.empty()) {
      std::size_t n = s_->body.size();
      out.append(s_->body);
      s_->body.clear();
      if (auto c = conn_.lock())
        c->consume(*s_, n);
      else
        s_->unconsumed = 0;
      end = s_->remote_end;
      co_return error_code{};
    }
    if (s_->remote_end) {
      end = true;
      co_return error_code{};
    }
    co_await wait();
  }
}

void H2StreamImpl::cancel() {
  if (s_->cancelled) return;
  s_->cancelled = true;
  auto c = conn_.lock();
  if (c && !c->dead()) {
    if (!s_->closed)
      nghttp2_submit_rst_stream(c->session(), NGHTTP2_FLAG_NONE, s_->id, NGHTTP2_CANCEL);
    c->consume(*s_, s_->unconsumed);  // bytes nobody will read go back to the window
    c->wake_writer();
  }
  s_->body.clear();
  s_->wake();
}

}  // namespace scoregate::upstream
