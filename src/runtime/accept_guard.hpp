// The acceptor's rules when connections or descriptors run out (README "Workers and limits"),
// sans-IO so each is unit-tested: when to close idle connections, how long to pause after a
// failed accept, and how often to log about it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace scoregate::runtime {

// From this many open connections on (90 % of max_connections), each new connection makes the
// accepting worker close one of its idle connections; at max_connections a new connection is
// taken only in place of an idle one closed for it.
std::uint32_t idle_close_mark(std::uint32_t max_connections);

// The pause before the next accept after one failed with no way to shed the connection (out of
// descriptors and no spare one, ENOBUFS, ...): 10 ms, doubling up to 1 s; reset() after an
// accept that worked. A failing accept() therefore runs at most a few times a second.
class AcceptBackoff {
 public:
  std::chrono::milliseconds next();
  void reset() { pause_ = std::chrono::milliseconds(0); }

 private:
  std::chrono::milliseconds pause_{0};
};

// At most one log line per second about a recurring event, with the count since the last one:
// note() counts an event and returns the count to log when a line is due (the first event, or
// a second after the last line); flush() returns what is left to log once the second is over
// (the worker's housekeeping calls it, so the last burst is reported too).
class OncePerSecond {
 public:
  using clock = std::chrono::steady_clock;
  std::optional<std::uint64_t> note(clock::time_point now);
  std::optional<std::uint64_t> flush(clock::time_point now);

 private:
  std::optional<clock::time_point> last_line_;
  std::uint64_t pending_ = 0;
};

}  // namespace scoregate::runtime
