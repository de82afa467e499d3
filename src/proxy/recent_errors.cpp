#include "proxy/recent_errors.hpp"

#include <algorithm>
#include <chrono>

namespace scoregate::proxy {

void RecentErrors::Text::assign(std::string_view s) {
  size = static_cast<std::uint8_t>(std::min(s.size(), bytes.size()));
  std::copy_n(s.data(), size, bytes.data());
}

void RecentErrors::record(unsigned status, std::string_view code, std::string_view endpoint,
                          std::string_view deployment) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::lock_guard lock(mutex_);
  auto& slot = ring_[next_];
  slot.unix_ms = ms;
  slot.status = status;
  slot.code.assign(code);
  slot.endpoint.assign(endpoint);
  slot.deployment.assign(deployment);
  next_ = (next_ + 1) % kCapacity;
  size_ = std::min(size_ + 1, kCapacity);
}

std::vector<RecentErrors::Entry> RecentErrors::entries() const {
  std::array<Slot, kCapacity> ring;
  std::size_t next = 0, size = 0;
  {  // copy, then build strings without the lock: the worker never waits on an allocation
    std::lock_guard lock(mutex_);
    ring = ring_;
    next = next_;
    size = size_;
  }
  std::vector<Entry> out;
  out.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const auto& s = ring[(next + kCapacity - size + i) % kCapacity];
    out.push_back({s.unix_ms, s.status, s.code.str(), s.endpoint.str(), s.deployment.str()});
  }
  return out;
}

}  // namespace scoregate::proxy
