// The sans-IO core of a server-side HTTP/2 connection (bytes in, frames out): the nghttp2
// session (framing, HPACK, flow control, RFC 9113 validation), the table of request streams,
// the request heads built from decoded header lists, the per-stream request body queues and
// response output queues, and the connection-level abuse limits (rapid reset, header floods).
// http/http2_session.hpp runs it on a ClientTransport; tests/fuzz/fuzz_http2_session.cpp feeds
// it bytes directly (docs/ARCHITECTURE.md "A request, file by file").
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.hpp"
#include "http/server_stream.hpp"

struct nghttp2_session;

namespace scoregate::http {

// Flow-control windows we advertise. A stream's window bounds what one request can have
// buffered here before the handler reads it; the connection window bounds the sum over all
// streams of a connection (what a client can make us hold, whatever its stream count).
inline constexpr std::int32_t kH2StreamWindow = 256 * 1024;
inline constexpr std::int32_t kH2ConnectionWindow = 1024 * 1024;
// Response bytes queued per stream before write_body() waits for the client to take them.
inline constexpr std::size_t kH2OutputHighWater = 64 * 1024;
// Rapid reset (CVE-2023-44487): within one window, more than kH2ResetLimit streams reset by
// the client or refused by us, and more than twice as many as completed, end the connection
// with GOAWAY(ENHANCE_YOUR_CALM).
inline constexpr unsigned kH2ResetLimit = 200;
inline constexpr std::chrono::seconds kH2ResetWindow{10};
// A header list over max_header_bytes is answered 431; over this many times the limit, the
// connection ends with GOAWAY(ENHANCE_YOUR_CALM) (nothing past the limit is stored either way).
inline constexpr std::size_t kH2HeaderHardFactor = 4;

// One request stream. Owned by the core; it stays valid while its handler runs, even after
// nghttp2 closed the stream (the handler then sees client_gone()).
struct H2Stream {
  explicit H2Stream(std::int32_t stream_id) : id(stream_id) {}
  std::int32_t id;
  RequestHead head;
  // Header list as decoded: (name, value) offsets into `head.raw`, kept until the head is built.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> offsets;  // start, name length
  std::vector<std::uint32_t> value_lengths;
  std::size_t header_bytes = 0;  // RFC 9113 §6.5.2 accounting: name + value + 32 per field
  bool header_overflow = false;  // over max_header_bytes: answered 431, never handled

  // Request body: pieces received and not yet handed out, and those handed out by the last
  // read_body() (their flow-control credit is returned when the handler asks for more).
  std::deque<std::string> in;
  std::vector<std::string> lent;
  std::size_t unconsumed = 0;  // bytes received whose window credit was not given back yet
  std::uint64_t received = 0;
  bool in_ended = false;    // END_STREAM received
  bool over_limit = false;  // more than max_body_bytes

  // Response.
  std::vector<std::string> nv;  // lower-cased names and values, alternating; ":status" first
  std::vector<std::string> trailer_nv;
  std::string out;  // DATA bytes queued for nghttp2's data provider
  std::size_t out_offset = 0;
  bool bodiless = false;
  bool head_submitted = false;
  bool out_eof = false;   // no more DATA after `out`
  bool end_sent = false;  // a frame with END_STREAM went out (the response is complete)
  bool deferred = false;  // the data provider is waiting for bytes

  bool dispatched = false;
  bool handler_done = false;
  bool closed = false;  // nghttp2 closed the stream
  std::uint32_t close_error = 0;
  void* user = nullptr;  // the I/O side's stream object

  std::size_t queued() const { return out.size() - out_offset; }
};

// What the core tells the side that runs it.
class H2Events {
 public:
  virtual ~H2Events() = default;
  // A request head is complete: start its handler (or answer it at once).
  virtual void on_request(H2Stream& s) = 0;
  // Something a waiting handler may care about: body data, end, reset, room to write, close.
  virtual void on_stream_event(H2Stream& s) = 0;
};

class Http2Core {
 public:
  Http2Core(const ServerLimits& limits, H2Events& events);
  ~Http2Core();
  Http2Core(const Http2Core&) = delete;
  Http2Core& operator=(const Http2Core&) = delete;

  // Client bytes in. False: the connection must end now (nghttp2 reported a fatal error such
  // as a flood); otherwise frames to send (perhaps a GOAWAY) may be waiting in produce().
  bool receive(std::string_view bytes);
  // Appends frames to send to `out` until about `max` bytes. False on a fatal error.
  bool produce(std::string& out, std::size_t max);
  bool want_write() const;
  // Nothing more to read or write: the connection is over.
  bool over() const;
  // The transport ended: every stream's client is gone.
  void shut();

  // Draining: GOAWAY(NO_ERROR) with the last stream id we processed; streams in flight finish.
  void drain();
  // The first step of a graceful shutdown (RFC 9113 section 6.8): GOAWAY(NO_ERROR) with the
  // largest stream id, so the client opens no new stream while every stream it already sent
  // (perhaps crossing this frame on the wire) is still processed. drain() is the second step,
  // at least a round trip later. False when the connection already ends.
  bool shutdown_notice();
  // GOAWAY(code) and the end of the connection once it is sent.
  void terminate(std::uint32_t error_code);
  bool goaway_sent() const { return goaway_; }
  std::uint32_t goaway_error() const { return goaway_error_; }

  // --- a handler's stream ---
  // Lends the queued body pieces (views valid until the next call), returning the credit of
  // the previously lent ones to the client.
  void take_body(H2Stream& s, std::vector<std::string_view>& pieces);
  void set_response(H2Stream& s, const ResponseStart& start);
  // Submits the response HEADERS; with_body: DATA follows from the output queue.
  bool submit_head(H2Stream& s, bool with_body);
  // gRPC "Trailers-Only": status, fields and trailers in one HEADERS frame with END_STREAM.
  bool submit_head_with_trailers(H2Stream& s, std::span<const OutField> trailers);
  bool queue_data(H2Stream& s, std::string_view bytes, bool end);
  bool finish_data(H2Stream& s, std::span<const OutField> trailers);
  void reset(H2Stream& s, std::uint32_t error_code);
  bool gone(const H2Stream& s) const { return shut_ || (s.closed && !s.end_sent); }
  // The handler returned: give back unread body credit, end what it left unfinished.
  void handler_done(H2Stream& s);

  std::size_t streams() const { return streams_.size(); }
  std::size_t buffered_bytes() const;  // request body and response bytes held (tests, fuzzer)
  const ServerLimits& limits() const { return limits_; }

 private:
  friend struct H2Callbacks;
  H2Stream* find(std::int32_t id);
  void erase(std::int32_t id);
  void build_head(H2Stream& s, bool ended);
  void on_head_complete(H2Stream& s, bool ended);
  void count_reset();
  void reject(H2Stream& s, unsigned status, std::string_view code, std::string_view message);

  const ServerLimits& limits_;
  H2Events& events_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::unique_ptr<H2Stream>> streams_;
  std::size_t active_handlers_ = 0;
  bool fatal_ = false;
  bool shut_ = false;
  bool goaway_ = false;
  bool notice_sent_ = false;
  std::uint32_t goaway_error_ = 0;
  // Rapid-reset accounting over the current window.
  std::chrono::steady_clock::time_point window_start_{};
  unsigned resets_ = 0;
  unsigned completed_ = 0;
};

}  // namespace scoregate::http
