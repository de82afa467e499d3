// libFuzzer target for the HTTP/2 session core (http/http2_core.hpp, the code Http2Session
// runs): the input follows a valid client preface as client frames, fed in pieces whose sizes
// come from the first input byte. A handler answers every stream: it takes the body pieces
// as they come and replies (with trailers on odd streams) once the request ended or the
// client went away. Memory held must stay bounded whatever the frames say.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/http2_core.hpp"

namespace {

using namespace scoregate::http;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class Answerer : public H2Events {
 public:
  // A dispatched stream stays valid until handler_done(): the core keeps it for its handler.
  void on_request(H2Stream& s) override { pending.push_back(&s); }
  void on_stream_event(H2Stream&) override {}
  std::vector<H2Stream*> pending;
};

// True when the stream was answered (its handler is done).
bool answer(Http2Core& core, H2Stream& s, bool last) {
  std::vector<std::string_view> pieces;
  core.take_body(s, pieces);
  if (!last && !s.in_ended && !s.over_limit && !core.gone(s)) return false;
  ResponseStart start;
  start.fields = {{"Content-Type", "text/plain"}, {"Connection", "close"}};
  core.set_response(s, start);
  OutField trailers[] = {{"grpc-status", "0"}};
  if (s.id % 4 == 1) {
    core.submit_head_with_trailers(s, trailers);
  } else if (core.submit_head(s, true)) {
    core.queue_data(s, "answer", false);
    if (s.id % 4 == 3)
      core.finish_data(s, trailers);
    else
      core.queue_data(s, {}, true);
  }
  core.handler_done(s);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  ServerLimits limits;
  limits.max_header_bytes = 4096;
  limits.max_body_bytes = 100000;
  limits.h2_max_concurrent_streams = 16;
  Answerer events;
  Http2Core core(limits, events);
  std::size_t step = 1 + data[0] % 64;
  std::string input(kPreface);
  input.append(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view rest(input);
  std::string out;
  // The high bits of the first byte play a reload: a shutdown notice after the first chunk,
  // the real GOAWAY (drain) half way through the input.
  const bool reload = (data[0] & 0x40) != 0;
  const std::size_t drain_at = rest.size() / 2;
  bool first = true;
  while (!rest.empty() && !core.over()) {
    if (reload && !first) core.shutdown_notice();
    if (reload && rest.size() <= drain_at) core.drain();
    first = false;
    auto n = std::min(step, rest.size());
    if (!core.receive(rest.substr(0, n))) break;
    rest.remove_prefix(n);
    std::vector<H2Stream*> waiting;
    for (H2Stream* s : events.pending)
      if (!answer(core, *s, false)) waiting.push_back(s);
    events.pending = std::move(waiting);
    out.clear();
    core.produce(out, 1 << 20);
    // Streams, bodies and queued output are bounded by the windows and the stream limit.
    if (core.buffered_bytes() > 8u << 20 || core.streams() > 1024) __builtin_trap();
  }
  for (H2Stream* s : events.pending) answer(core, *s, true);
  out.clear();
  core.produce(out, 1 << 20);
  return 0;
}
