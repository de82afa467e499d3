// The minimum request body rate (router.min_body_rate_bytes_per_s, README "Limits"): a client
// may take min_body_rate_grace_ms plus one second per min_rate bytes it has sent, counting only
// the time the router waited for the body. Time the handler spent elsewhere (waiting for the
// model to take the bytes already read: HTTP/2 flow control and HTTP/1.1 alike send nothing
// more until then) is not the client's. So a slow-drip upload whose every byte arrives before
// body_idle_timeout still ends. Sans-IO: the connection reports waits and bytes.
#pragma once

#include <chrono>
#include <cstdint>

namespace scoregate::http {

class BodyRate {
 public:
  using duration = std::chrono::steady_clock::duration;

  // min_bytes_per_s 0: no minimum (allowance() is then duration::max()).
  BodyRate(std::uint32_t min_bytes_per_s, std::chrono::milliseconds grace)
      : rate_(min_bytes_per_s), grace_(grace) {}

  void add_bytes(std::uint64_t n) { bytes_ += n; }
  void add_wait(duration waited) { waited_ += waited; }
  // How much longer the router may wait for body bytes before the client is too slow (zero
  // when it already is): grace + bytes / rate - waited.
  duration allowance() const;
  bool too_slow() const { return rate_ != 0 && allowance() == duration::zero(); }

 private:
  std::uint32_t rate_;
  duration grace_;
  std::uint64_t bytes_ = 0;
  duration waited_{0};
};

}  // namespace scoregate::http
