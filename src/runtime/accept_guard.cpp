#include "runtime/accept_guard.hpp"

#include <algorithm>
#include <utility>

namespace scoregate::runtime {

std::uint32_t idle_close_mark(std::uint32_t max_connections) {
  return std::max<std::uint32_t>(1, max_connections - max_connections / 10);
}

std::chrono::milliseconds AcceptBackoff::next() {
  using std::chrono::milliseconds;
  pause_ = pause_.count() == 0 ? milliseconds(10) : std::min(pause_ * 2, milliseconds(1000));
  return pause_;
}

std::optional<std::uint64_t> OncePerSecond::note(clock::time_point now) {
  ++pending_;
  return flush(now);
}

std::optional<std::uint64_t> OncePerSecond::flush(clock::time_point now) {
  if (pending_ == 0) return std::nullopt;
  if (last_line_ && now - *last_line_ < std::chrono::seconds(1)) return std::nullopt;
  last_line_ = now;
  return std::exchange(pending_, 0);
}

}  // namespace scoregate::runtime
