// The last router errors of one worker, for the status page (README "Status page"): status,
// code, endpoint, deployment and time of each answer the router gave itself (the replies
// scoregate_router_errors_total counts: Exchange::reply()).
// Never a message, a header, a key or a body: a message can quote what the client sent.
// Written only on the error path (a fixed-size copy under a mutex only this worker and the
// rare /status read take), so a request that succeeds pays nothing.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace scoregate::proxy {

class RecentErrors {
 public:
  static constexpr std::size_t kCapacity = 16;
  struct Entry {
    std::int64_t unix_ms = 0;
    unsigned status = 0;
    std::string code, endpoint, deployment;
  };
  void record(unsigned status, std::string_view code, std::string_view endpoint,
              std::string_view deployment);
  std::vector<Entry> entries() const;  // oldest first

 private:
  // Fixed-size text so that recording never allocates; longer names are cut.
  struct Text {
    std::array<char, 64> bytes{};
    std::uint8_t size = 0;
    void assign(std::string_view s);
    std::string str() const { return {bytes.data(), size}; }
  };
  struct Slot {
    std::int64_t unix_ms = 0;
    unsigned status = 0;
    Text code, endpoint, deployment;
  };
  mutable std::mutex mutex_;
  std::array<Slot, kCapacity> ring_{};
  std::size_t next_ = 0, size_ = 0;
};

}  // namespace scoregate::proxy
