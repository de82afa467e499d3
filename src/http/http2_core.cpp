#include "http/http2_core.hpp"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include "http/serialize.hpp"

namespace scoregate::http {

namespace {

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

// Connection-specific fields are forbidden in HTTP/2 (RFC 9113 §8.2.2); framing is ours.
bool dropped_field(std::string_view lower) {
  static constexpr std::array<std::string_view, 7> kDropped = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding",
      "upgrade",    "te",         "content-length"};
  return lower.empty() || lower.front() == ':' ||
         std::find(kDropped.begin(), kDropped.end(), lower) != kDropped.end();
}

void append_fields(std::vector<std::string>& nv, std::span<const OutField> fields) {
  for (const auto& f : fields) {
    std::string name(f.name);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (dropped_field(name)) continue;
    nv.push_back(std::move(name));
    nv.emplace_back(f.value);
  }
}

std::vector<nghttp2_nv> to_nva(const std::vector<std::string>& nv) {
  std::vector<nghttp2_nv> out;
  out.reserve(nv.size() / 2);
  for (std::size_t i = 0; i + 1 < nv.size(); i += 2) {
    // nghttp2 copies names and values when the NO_COPY flags are not set.
    out.push_back({reinterpret_cast<std::uint8_t*>(const_cast<char*>(nv[i].data())),
                   reinterpret_cast<std::uint8_t*>(const_cast<char*>(nv[i + 1].data())),
                   nv[i].size(), nv[i + 1].size(), NGHTTP2_NV_FLAG_NONE});
  }
  return out;
}

// nghttp2_submit_shutdown_notice's frame: GOAWAY(NO_ERROR) with the largest stream id.
bool is_notice(const nghttp2_goaway& g) {
  return g.error_code == NGHTTP2_NO_ERROR && g.last_stream_id == (1U << 31U) - 1U;
}

}  // namespace

// nghttp2's callbacks; user_data is the Http2Core.
struct H2Callbacks {
  static Http2Core& core(void* user) { return *static_cast<Http2Core*>(user); }

  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto id = frame->hd.stream_id;
      core(user).streams_.emplace(id, std::make_unique<H2Stream>(id));
    }
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                    std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                    std::uint8_t, void* user) {
    Http2Core& c = core(user);
    H2Stream* s = c.find(frame->hd.stream_id);
    if (!s) return 0;
    // Decoded size, not wire size: HPACK references let a small block expand a lot, so the
    // limit is checked before anything is stored (CONTINUATION floods, CVE-2024-27316).
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > c.limits_.max_header_bytes) {
      // Somewhat over: stop storing and answer 431 like HTTP/1.1 (RFC 9113 §10.5.1). Far
      // over (kH2HeaderHardFactor times the limit): an attack, the connection ends.
      if (s->header_bytes > kH2HeaderHardFactor * std::size_t{c.limits_.max_header_bytes}) {
        c.terminate(NGHTTP2_ENHANCE_YOUR_CALM);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
      }
      s->header_overflow = true;
      return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // request trailers: dropped
    auto start = static_cast<std::uint32_t>(s->head.raw.size());
    s->head.raw.append(view(name, namelen));
    s->head.raw.append(view(value, valuelen));
    s->offsets.emplace_back(start, static_cast<std::uint32_t>(namelen));
    s->value_lengths.push_back(static_cast<std::uint32_t>(valuelen));
    return 0;
  }

  static int frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    Http2Core& c = core(user);
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (H2Stream* s = c.find(frame->hd.stream_id)) {
          if (frame->headers.cat == NGHTTP2_HCAT_REQUEST && !s->dispatched && !s->handler_done)
            c.on_head_complete(*s, end);
          else if (end) {
            s->in_ended = true;
            if (s->dispatched) c.events_.on_stream_event(*s);
          }
        }
        break;
      case NGHTTP2_DATA:
        if (H2Stream* s = c.find(frame->hd.stream_id); s && end) {
          s->in_ended = true;
          if (s->dispatched && !s->handler_done) c.events_.on_stream_event(*s);
        }
        break;
      case NGHTTP2_RST_STREAM:
        c.count_reset();
        break;
      default:
        break;
    }
    return 0;
  }

  static int data_chunk(nghttp2_session* session, std::uint8_t, std::int32_t id,
                        const std::uint8_t* data, std::size_t len, void* user) {
    Http2Core& c = core(user);
    H2Stream* s = c.find(id);
    if (!s || s->handler_done || s->over_limit || !s->dispatched) {
      nghttp2_session_consume(session, id, len);  // nobody will read it: credit back now
      return 0;
    }
    s->received += len;
    if (s->received > c.limits_.max_body_bytes) {
      s->over_limit = true;
      s->in.clear();
      nghttp2_session_consume(session, id, s->unconsumed + len);
      s->unconsumed = 0;
    } else {
      s->in.emplace_back(view(data, len));
      s->unconsumed += len;
    }
    c.events_.on_stream_event(*s);
    return 0;
  }

  static int stream_close(nghttp2_session*, std::int32_t id, std::uint32_t error, void* user) {
    Http2Core& c = core(user);
    H2Stream* s = c.find(id);
    if (!s) return 0;
    s->closed = true;
    s->close_error = error;
    if (error == NGHTTP2_NO_ERROR && s->end_sent) ++c.completed_;
    if (s->unconsumed) {  // the connection window must not shrink for a body nobody reads
      nghttp2_session_consume_connection(c.session_, s->unconsumed);
      s->unconsumed = 0;
    }
    if (!s->dispatched || s->handler_done)
      c.erase(id);
    else
      c.events_.on_stream_event(*s);
    return 0;
  }

  static int frame_send(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    Http2Core& c = core(user);
    const bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end) {
      if (H2Stream* s = c.find(frame->hd.stream_id)) {
        s->end_sent = true;
        // The response is complete but the request body is not: tell the client to stop
        // (RFC 9113 §8.1) instead of leaving the stream half open.
        if (s->handler_done && !s->in_ended && !s->closed)
          nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
      }
    } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
      auto code = frame->rst_stream.error_code;
      if (code == NGHTTP2_REFUSED_STREAM || code == NGHTTP2_PROTOCOL_ERROR) c.count_reset();
    } else if (frame->hd.type == NGHTTP2_GOAWAY && !is_notice(frame->goaway)) {
      c.goaway_ = true;
      c.goaway_error_ = frame->goaway.error_code;
    }
    return 0;
  }

  static ssize_t read_data(nghttp2_session* session, std::int32_t id, std::uint8_t* buf,
                           std::size_t length, std::uint32_t* flags, nghttp2_data_source*,
                           void* user) {
    Http2Core& c = core(user);
    H2Stream* s = c.find(id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    std::size_t n = std::min(length, s->queued());
    if (n) std::memcpy(buf, s->out.data() + s->out_offset, n);
    s->out_offset += n;
    if (s->out_offset == s->out.size()) {
      s->out.clear();
      s->out_offset = 0;
    }
    if (s->queued() == 0 && s->out_eof) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!s->trailer_nv.empty()) {
        auto nva = to_nva(s->trailer_nv);
        if (nghttp2_submit_trailer(session, id, nva.data(), nva.size()) == 0)
          *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    } else if (n == 0) {
      s->deferred = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    if (n && s->dispatched && !s->handler_done) c.events_.on_stream_event(*s);  // room
    return static_cast<ssize_t>(n);
  }
};

Http2Core::Http2Core(const ServerLimits& limits, H2Events& events)
    : limits_(limits), events_(events) {
  nghttp2_session_callbacks* cbs = nullptr;
  nghttp2_option* opt = nullptr;
  if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0) {
    fatal_ = true;
    if (cbs) nghttp2_session_callbacks_del(cbs);
    return;
  }
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, H2Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, H2Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, H2Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, H2Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, H2Callbacks::stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, H2Callbacks::frame_send);
  // Window credit goes back only when the handler has taken the bytes: memory per stream is
  // bounded by the stream window, per connection by the connection window.
  nghttp2_option_set_no_auto_window_update(opt, 1);
  // SETTINGS/PING floods: more unsent ACKs than this (a client that sends but never reads)
  // and nghttp2 ends the session (NGHTTP2_ERR_FLOODED). nghttp2's defaults, stated here.
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_settings(opt, 32);
  // nghttp2's own RST_STREAM token bucket (backported to Debian's 1.52.0-1+deb12u3) as a
  // hard cap; count_reset() is the tighter rule that answers ENHANCE_YOUR_CALM.
  nghttp2_option_set_stream_reset_rate_limit(opt, 2 * kH2ResetLimit, 2 * kH2ResetLimit / 10);
  nghttp2_option_set_max_continuations(opt, 8);
  if (nghttp2_session_server_new2(&session_, cbs, this, opt) != 0) {
    session_ = nullptr;
    fatal_ = true;
  }
  nghttp2_session_callbacks_del(cbs);
  nghttp2_option_del(opt);
  if (!session_) return;
  std::array<nghttp2_settings_entry, 4> iv{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.h2_max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_bytes},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 4096},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<std::uint32_t>(kH2StreamWindow)},
  }};
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv.data(), iv.size()) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kH2ConnectionWindow) !=
          0)
    fatal_ = true;
}

Http2Core::~Http2Core() {
  if (session_) nghttp2_session_del(session_);
}

bool Http2Core::receive(std::string_view bytes) {
  if (fatal_) return false;
  auto n = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                    bytes.size());
  if (n < 0) fatal_ = true;
  return !fatal_;
}

bool Http2Core::produce(std::string& out, std::size_t max) {
  while (!fatal_ && out.size() < max) {
    const std::uint8_t* data = nullptr;
    auto n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) fatal_ = true;
    if (n <= 0) break;
    out.append(view(data, static_cast<std::size_t>(n)));
  }
  return !fatal_;
}

bool Http2Core::want_write() const { return !fatal_ && nghttp2_session_want_write(session_); }

bool Http2Core::over() const {
  if (fatal_ || shut_) return true;
  // After a shutdown notice nghttp2 wants no more reads once its streams are done, but the
  // real GOAWAY is still to come and a crossing request may still arrive.
  if (notice_sent_ && !goaway_) return false;
  return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

void Http2Core::shut() {
  shut_ = true;
  std::vector<std::int32_t> done;
  for (auto& [id, s] : streams_) {
    if (!s->dispatched || s->handler_done)
      done.push_back(id);
    else
      events_.on_stream_event(*s);
  }
  for (auto id : done) erase(id);
}

void Http2Core::drain() {
  if (fatal_ || goaway_) return;
  goaway_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

bool Http2Core::shutdown_notice() {
  if (fatal_ || goaway_ || notice_sent_) return false;
  notice_sent_ = nghttp2_submit_shutdown_notice(session_) == 0;
  return notice_sent_;
}

void Http2Core::terminate(std::uint32_t error_code) {
  if (fatal_ || (goaway_ && goaway_error_ != NGHTTP2_NO_ERROR)) return;
  goaway_ = true;
  goaway_error_ = error_code;
  nghttp2_session_terminate_session(session_, error_code);
}

H2Stream* Http2Core::find(std::int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Http2Core::erase(std::int32_t id) { streams_.erase(id); }

void Http2Core::count_reset() {
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= kH2ResetWindow) {
    window_start_ = now;
    resets_ = completed_ = 0;
  }
  ++resets_;
  if (resets_ > kH2ResetLimit && resets_ > 2 * completed_) terminate(NGHTTP2_ENHANCE_YOUR_CALM);
}

std::size_t Http2Core::buffered_bytes() const {
  std::size_t n = 0;
  for (const auto& [id, s] : streams_) {
    n += s->head.raw.size() + s->out.size();
    for (const auto& p : s->in) n += p.size();
    for (const auto& p : s->lent) n += p.size();
  }
  return n;
}

// --- request heads ---

void Http2Core::build_head(H2Stream& s, bool ended) {
  RequestHead& h = s.head;
  auto name_at = [&](std::size_t i) {
    return std::string_view(h.raw).substr(s.offsets[i].first, s.offsets[i].second);
  };
  bool has_host = false;
  std::size_t authority = s.offsets.size();
  for (std::size_t i = 0; i < s.offsets.size(); ++i) {
    if (name_at(i) == "host") has_host = true;
    if (name_at(i) == ":authority") authority = i;
  }
  // The "host" name is appended before any view is taken: views must not see raw reallocate.
  std::size_t host_name = h.raw.size();
  if (!has_host && authority < s.offsets.size()) h.raw.append("host");
  const std::string_view raw(h.raw);
  h.version = 20;
  h.keep_alive = true;
  h.framing = ended ? BodyFraming::none : BodyFraming::chunked;
  for (std::size_t i = 0; i < s.offsets.size(); ++i) {
    auto [start, nlen] = s.offsets[i];
    std::string_view name = raw.substr(start, nlen);
    std::string_view value = raw.substr(start + nlen, s.value_lengths[i]);
    if (name == ":method") {
      h.method_text = value;
      h.method = bhttp::string_to_verb(value);
    } else if (name == ":path") {
      h.target = value;
    } else if (name == ":authority") {
      if (!has_host) h.fields.push_back({bhttp::field::host, raw.substr(host_name, 4), value});
    } else if (name.front() != ':') {
      h.fields.push_back({bhttp::string_to_field(name), name, value});
      if (name == "content-length" && !ended) {
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec == std::errc() && p == value.data() + value.size()) {
          h.framing = BodyFraming::content_length;
          h.content_length = n;
        }
      }
    }
  }
  s.offsets = {};
  s.value_lengths = {};
}

void Http2Core::on_head_complete(H2Stream& s, bool ended) {
  build_head(s, ended);
  s.in_ended = ended;
  if (s.header_overflow) {
    reject(s, 431, "RequestHeaderTooLarge",
           "the request's header list is larger than router.max_header_bytes");
    return;
  }
  // nghttp2 checked the pseudo-headers (RFC 9113 §8.3.1) and refused extended CONNECT; a
  // plain CONNECT is valid HTTP/2 but the router is no tunnel.
  if (s.head.method == bhttp::verb::connect) {
    reject(s, 400, "BadRequest", "CONNECT is not supported");
    return;
  }
  // Handlers of streams the client reset may still be running: they count too, so resets
  // cannot start more concurrent work than MAX_CONCURRENT_STREAMS allows.
  if (active_handlers_ >= limits_.h2_max_concurrent_streams) {
    s.handler_done = true;
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, NGHTTP2_REFUSED_STREAM);
    return;
  }
  s.dispatched = true;
  ++active_handlers_;
  events_.on_request(s);
}

void Http2Core::reject(H2Stream& s, unsigned status, std::string_view code,
                       std::string_view message) {
  std::string body = json_error_body(code, message);
  ResponseStart start;
  start.status = status;
  start.fields = {{"content-type", "application/json"}};
  start.content_length = body.size();
  set_response(s, start);
  s.handler_done = true;  // never handed to a handler: erased when nghttp2 closes it
  if (submit_head(s, true)) queue_data(s, body, true);
}

// --- a handler's stream ---

void Http2Core::take_body(H2Stream& s, std::vector<std::string_view>& pieces) {
  pieces.clear();
  std::size_t lent = 0;
  for (const auto& p : s.lent) lent += p.size();
  s.lent.clear();
  lent = std::min(lent, s.unconsumed);
  if (lent && session_) {
    nghttp2_session_consume(session_, s.id, lent);
    s.unconsumed -= lent;
    events_.on_stream_event(s);  // a WINDOW_UPDATE may be due
  }
  while (!s.in.empty()) {
    s.lent.push_back(std::move(s.in.front()));
    s.in.pop_front();
  }
  for (const auto& p : s.lent) pieces.emplace_back(p);
}

void Http2Core::set_response(H2Stream& s, const ResponseStart& start) {
  s.nv.clear();
  s.nv.emplace_back(":status");
  s.nv.push_back(std::to_string(start.status));
  append_fields(s.nv, start.fields);
  if (start.content_length) {
    s.nv.emplace_back("content-length");
    s.nv.push_back(std::to_string(*start.content_length));
  }
  s.bodiless = start.bodiless;
}

bool Http2Core::submit_head(H2Stream& s, bool with_body) {
  if (fatal_ || s.closed || s.head_submitted) return false;
  s.head_submitted = true;
  auto nva = to_nva(s.nv);
  nghttp2_data_provider provider{};
  provider.read_callback = H2Callbacks::read_data;
  if (!with_body) s.out_eof = true;
  return nghttp2_submit_response(session_, s.id, nva.data(), nva.size(),
                                 with_body ? &provider : nullptr) == 0;
}

bool Http2Core::submit_head_with_trailers(H2Stream& s, std::span<const OutField> trailers) {
  append_fields(s.nv, trailers);
  return submit_head(s, false);
}

bool Http2Core::queue_data(H2Stream& s, std::string_view bytes, bool end) {
  if (fatal_ || s.closed || !s.head_submitted || s.out_eof) return false;
  if (s.out_offset > 0 && s.out_offset >= s.out.size() / 2) {
    s.out.erase(0, s.out_offset);
    s.out_offset = 0;
  }
  s.out.append(bytes);
  s.out_eof = end;
  if (s.deferred && (s.queued() || end)) {
    s.deferred = false;
    nghttp2_session_resume_data(session_, s.id);
  }
  return true;
}

bool Http2Core::finish_data(H2Stream& s, std::span<const OutField> trailers) {
  if (fatal_ || s.closed || !s.head_submitted || s.out_eof) return false;
  append_fields(s.trailer_nv, trailers);
  return queue_data(s, {}, true);
}

void Http2Core::reset(H2Stream& s, std::uint32_t error_code) {
  if (fatal_ || s.closed || shut_) return;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, s.id, error_code);
}

void Http2Core::handler_done(H2Stream& s) {
  if (s.handler_done) return;
  s.handler_done = true;
  if (s.dispatched) --active_handlers_;
  s.in.clear();
  s.lent.clear();
  if (s.unconsumed && session_) nghttp2_session_consume(session_, s.id, s.unconsumed);
  s.unconsumed = 0;
  if (!s.closed && !shut_ && !fatal_) {
    if (!s.head_submitted || !s.out_eof)
      reset(s, NGHTTP2_INTERNAL_ERROR);  // the handler left the response unfinished
    else if (s.end_sent && !s.in_ended)
      reset(s, NGHTTP2_NO_ERROR);  // complete response, unread request body (RFC 9113 §8.1)
  }
  if (s.closed || shut_ || fatal_) erase(s.id);
}

}  // namespace scoregate::http
